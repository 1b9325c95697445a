#!/usr/bin/python3
"""Measures the memory and latency bounds of docs/security.md (issue 10).

  tools/bench/hardening_bounds.py [--binary=bazel-bin/concordance/concordance]

Starts a single node per measurement on a loopback port and prints:
  1. RSS during a replay attack: an 8 MiB changelog, one JSON-RPC batch of 32
     watch/subscribe {fromSeq: 0} on one /stream connection that reads
     nothing for 3 s (default send-queue cap: 64 MiB).
  2. Abandoned long-polls: 1,000 GET /changes?wait=60000 whose clients then
     close; the time until the node has released every slot and waiter.
  3. PUT latency (one client, sequential) with no long-poll waiting and with
     1,000 long-polls waiting on another tenant.
Needs Debian's python3-websockets (/usr/bin/python3).
"""
import argparse
import asyncio
import http.client
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import websockets


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node:
    def __init__(self, binary, flags=()):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bounds-")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--bootstrap", f"--listen=127.0.0.1:{self.port}",
             f"--data-dir={self.dir}/data", *flags], stdout=self.log, stderr=self.log)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if self.get("/api/v1/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("node did not become ready")

    def request(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def get(self, path):
        return self.request("GET", path)

    def metric(self, name):
        _, body = self.get("/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return -1

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)


def replay_attack(binary):
    node = Node(binary)
    value = '{"value":"' + "r" * (32 << 10) + '"}'
    c = http.client.HTTPConnection("127.0.0.1", node.port)
    for i in range(256):  # 8 MiB of changelog
        c.request("PUT", f"/api/v1/kv/tenant:rp/s/k{i}", body=value)
        c.getresponse().read()
    before = node.rss_mib()
    peak = before

    async def attack():
        nonlocal peak
        async with websockets.connect(f"ws://127.0.0.1:{node.port}/stream", max_size=None,
                                      max_queue=1, read_limit=2 ** 16) as ws:
            batch = ",".join('{"jsonrpc":"2.0","id":%d,"method":"watch/subscribe",'
                             '"params":{"tenant":"rp","fromSeq":0}}' % i for i in range(32))
            await ws.send("[" + batch + "]")
            end = time.time() + 3
            while time.time() < end:  # read nothing
                peak = max(peak, node.rss_mib())
                await asyncio.sleep(0.02)

    asyncio.run(attack())
    node.stop()
    print(f"replay attack (32 x fromSeq 0 over an 8 MiB changelog, cap 64 MiB): "
          f"RSS {before:.0f} MiB before, peak {peak:.0f} MiB (+{peak - before:.0f} MiB)")


def open_long_polls(port, n, tenant, namespace=None):
    socks = []
    target = f"namespace={namespace}" if namespace else f"tenant={tenant}"
    req = (f"GET /api/v1/changes?{target}&since=0&wait=60000 HTTP/1.1\r\n"
           "Host: x\r\n\r\n").encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
    return socks


def wait_metric(node, name, value, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if node.metric(name) == value:
            return True
        time.sleep(0.005)
    return False


def abandoned_long_polls(binary):
    node = Node(binary)
    socks = open_long_polls(node.port, 1000, "lp")
    assert wait_metric(node, "concordance_changes_long_polls_waiting", 1000, 20)
    start = time.time()
    for s in socks:
        s.close()
    released = wait_metric(node, "concordance_changes_long_polls_waiting", 0, 70)
    waiters = time.time() - start
    while node.metric("concordance_http_connections") > 1 and time.time() - start < 70:
        time.sleep(0.005)
    slots = time.time() - start
    node.stop()
    print(f"1,000 abandoned long-polls: waiters released in {waiters * 1000:.0f} ms, "
          f"connection slots in {slots * 1000:.0f} ms" + ("" if released else " (NOT released)"))


def put_latency(node, n=2000):
    c = http.client.HTTPConnection("127.0.0.1", node.port)
    lat = []
    for i in range(n):
        t = time.perf_counter()
        c.request("PUT", f"/api/v1/kv/tenant:w/s/k{i % 100}", body='{"value":1}')
        c.getresponse().read()
        lat.append(time.perf_counter() - t)
    lat.sort()
    return lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000


def put_with_long_polls(binary):
    node = Node(binary)
    put_latency(node, 500)  # warm up
    p50, p99 = put_latency(node)
    socks = open_long_polls(node.port, 1000, "other")
    assert wait_metric(node, "concordance_changes_long_polls_waiting", 1000, 20)
    q50, q99 = put_latency(node)
    for s in socks:
        s.close()
    assert wait_metric(node, "concordance_changes_long_polls_waiting", 0, 70)
    # The writes' own tenant, another namespace: only polls on the written
    # namespace may wake.
    socks = open_long_polls(node.port, 1000, None, namespace="tenant:w/other")
    assert wait_metric(node, "concordance_changes_long_polls_waiting", 1000, 20)
    r50, r99 = put_latency(node)
    for s in socks:
        s.close()
    node.stop()
    print(f"PUT latency, one client: p50 {p50:.2f} ms / p99 {p99:.2f} ms with no long-poll; "
          f"p50 {q50:.2f} / p99 {q99:.2f} ms (p99 x{q99 / p99:.2f}) with 1,000 waiting on another "
          f"tenant; p50 {r50:.2f} / p99 {r99:.2f} ms (p99 x{r99 / p99:.2f}) with 1,000 waiting on "
          f"another namespace of the same tenant")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="bazel-bin/concordance/concordance")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"binary: {args.binary}")
    replay_attack(args.binary)
    abandoned_long_polls(args.binary)
    put_with_long_polls(args.binary)


if __name__ == "__main__":
    sys.exit(main())
