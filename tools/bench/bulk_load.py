#!/usr/bin/env python3
"""Bulk load for tools/bench/growth.sh: KEYS keys of VALUE bytes into one
namespace through POST /api/v1/batch (BATCH set ops per request), from
CLIENTS keep-alive connections. Follows a 307 to the leader. Prints
"keys=N seconds=S keys_per_second=R errors=E".

    bulk_load.py HOST:PORT [--keys N] [--clients C] [--batch B] [--value-bytes V]
"""
import argparse
import http.client
import json
import threading
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("endpoint")
    p.add_argument("--keys", type=int, default=1000000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--value-bytes", type=int, default=256)
    p.add_argument("--namespace", default="tenant:bench/bulk")
    a = p.parse_args()
    value = '"' + "v" * (a.value_bytes - 2) + '"'
    batches = (a.keys + a.batch - 1) // a.batch
    next_batch = [0]
    lock = threading.Lock()
    errors = [0]

    def client():
        host, port = a.endpoint.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                b = next_batch[0]
                next_batch[0] += 1
            if b >= batches:
                return
            first = b * a.batch
            ops = [{"op": "set", "namespace": a.namespace, "key": "g%d" % i, "value": value}
                   for i in range(first, min(first + a.batch, a.keys))]
            body = json.dumps({"ops": ops})
            for _ in range(20):  # retry 503s (leader busy) a few times
                try:
                    conn.request("POST", "/api/v1/batch", body, {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    if r.status == 200:
                        break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(host, int(port), timeout=30)
                time.sleep(0.05)
            else:
                with lock:
                    errors[0] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - start
    print("keys=%d seconds=%.1f keys_per_second=%.0f errors=%d" % (a.keys, secs, a.keys / secs, errors[0]))


if __name__ == "__main__":
    main()
