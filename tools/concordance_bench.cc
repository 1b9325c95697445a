// concordance-bench: a load generator for Concordance over gRPC (the
// generated client), REST, JSON-RPC on /stream, and etcd's JSON gateway
// (so both systems meet the same generator).
//
//   concordance-bench --protocol=grpc --connections=64 --duration=10
//   concordance-bench --workload=mixed --read-ratio=0.9 --protocol=http --clients=16
//   concordance-bench --workload=cas-contention --clients=32 --key-space=4
//   concordance-bench --workload=watch-latency --subscribers=1000 --rate=1000 \
//       --endpoints=127.0.0.1:4101,127.0.0.1:4102,127.0.0.1:4103
//   concordance-bench --protocol=etcd --endpoints=127.0.0.1:2379 --connections=64
//
// Request workloads (tools/benchmark/workload.h): each client is a thread
// issuing one request at a time; clients share --connections connections
// round-robin over gRPC (HTTP/1.1 and WebSocket need one per client).
// Without --rate the load is closed-loop; with it, each client follows a
// fixed schedule and latency counts from when a request was due. The
// result: throughput and p50/p90/p99/p99.9/max from a latency histogram of
// the answered requests, conflicts (CAS losses) apart from errors, the
// generator's own CPU per request, and with --server-pids the servers'.
// watch-latency: tools/benchmark/watch_latency.h.
//
// gRPC follows the leader; REST, /stream and etcd do not (a write to a
// follower counts as an error): point --endpoints at the leader for them.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"
#include "tools/benchmark/pacer.h"
#include "tools/benchmark/recorder.h"
#include "tools/benchmark/report.h"
#include "tools/benchmark/target.h"
#include "tools/benchmark/watch_latency.h"
#include "tools/benchmark/workload.h"
#include "util/flag_help.h"

DEFINE_string(endpoints, "127.0.0.1:4100", "comma-separated host:port; connections go round-robin");
DEFINE_string(protocol, "grpc", "grpc, http (REST), websocket (JSON-RPC on /stream) or etcd (its JSON gateway)");
DEFINE_string(workload, "put", "put, get, mixed, cas-contention or watch-latency");
DEFINE_int32(connections, 1, "connections (for http, websocket and etcd: also the number of clients)");
DEFINE_int32(clients, 0, "concurrent clients (0 = one per connection)");
DEFINE_double(duration, 10, "seconds to run (when --total is 0)");
DEFINE_int64(total, 0, "requests to issue in all (0 = run for --duration)");
DEFINE_double(rate, 0, "requests (watch-latency: writes) per second in all; 0 = as fast as answered");
DEFINE_int32(value_size, 256, "bytes of each value's JSON text");
DEFINE_int32(key_space, 10000, "distinct keys");
DEFINE_double(read_ratio, 0.9, "mixed: the share of reads");
DEFINE_string(ns, "tenant:bench/settings", "namespace read and written");
DEFINE_int32(subscribers, 10, "watch-latency: subscribers, spread over --endpoints");
DEFINE_string(watch_shape, "spread", "watch-latency: spread (a namespace each) or fanout (all on one tenant)");
DEFINE_int32(writers, 4, "watch-latency: writer threads");
DEFINE_string(api_key, "", "API key (default: $CONCORDANCE_API_KEY)");
DEFINE_int32(timeout_ms, 10000, "deadline of one request");
DEFINE_string(cacert, "", "gRPC over TLS, verifying the servers with this PEM CA bundle (--protocol=grpc only)");
DEFINE_string(server_pids, "", "comma-separated pids of the servers, to report their CPU per operation");
DEFINE_string(progress, "auto", "progress line on stderr: auto (on a terminal), always or never");
DEFINE_bool(json, false, "print the result as one JSON object");

namespace concordance::benchmark {
namespace {

using Clock = std::chrono::steady_clock;

std::string ApiKey() {
  if (!FLAGS_api_key.empty()) return FLAGS_api_key;
  const char* env = getenv("CONCORDANCE_API_KEY");
  return env ? env : "";
}

std::vector<std::string> Endpoints() { return absl::StrSplit(FLAGS_endpoints, ',', absl::SkipEmpty()); }

absl::StatusOr<std::vector<int>> ServerPids() {
  std::vector<int> pids;
  for (absl::string_view p : absl::StrSplit(FLAGS_server_pids, ',', absl::SkipEmpty())) {
    int pid = 0;
    if (!absl::SimpleAtoi(p, &pid) || pid <= 0) return absl::InvalidArgumentError("--server-pids: not a pid list");
    if (kill(pid, 0) != 0) return absl::InvalidArgumentError(absl::StrCat("--server-pids: no process ", pid));
    pids.push_back(pid);
  }
  return pids;
}

absl::StatusOr<std::unique_ptr<Target>> Open(const TargetOptions& o) {
  if (FLAGS_protocol == "grpc") return GrpcTarget(o);
  if (FLAGS_protocol == "http") return HttpTarget(o);
  if (FLAGS_protocol == "websocket") return WebSocketTarget(o);
  return EtcdTarget(o);
}

absl::StatusOr<std::vector<std::unique_ptr<Target>>> Connect(int connections) {
  std::vector<std::string> endpoints = Endpoints();
  std::vector<std::unique_ptr<Target>> targets;
  for (int i = 0; i < connections; ++i) {
    TargetOptions o{endpoints[i % endpoints.size()], ApiKey(), FLAGS_ns,
                    std::chrono::milliseconds(FLAGS_timeout_ms), FLAGS_cacert};
    if (!FLAGS_cacert.empty() && FLAGS_protocol != "grpc") {
      return absl::InvalidArgumentError("--cacert: TLS is for --protocol=grpc (for HTTPS use wrk)");
    }
    auto t = Open(o);
    if (!t.ok()) return t.status();
    targets.push_back(std::move(*t));
  }
  return targets;
}

void RunClient(const Workload& workload, Target* target, int id, int clients, Clock::time_point start,
               Clock::time_point end, std::atomic<int64_t>* budget, Recorder* out) {
  std::minstd_rand rng(static_cast<uint32_t>(id * 7919 + 1));
  Pacer pacer(FLAGS_rate / clients, start, static_cast<double>(id) / clients);
  std::string error;
  for (;;) {
    if (FLAGS_total > 0 ? budget->fetch_sub(1) <= 0 : Clock::now() >= end) return;
    Clock::time_point due = pacer.Wait();
    if (FLAGS_total == 0 && due >= end) return;
    Outcome o = workload.RunOne(target, &rng, &error);
    uint64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - due).count();
    if (o == Outcome::kOk) out->Ok(ns);
    if (o == Outcome::kConflict) out->Conflict(ns);
    if (o == Outcome::kError) out->Error(error);
  }
}

bool ProgressWanted() {
  if (FLAGS_progress == "always") return true;
  if (FLAGS_progress == "never") return false;
  return isatty(STDERR_FILENO);
}

int RunRequests(const std::vector<int>& pids) {
  WorkloadOptions wo{FLAGS_workload, FLAGS_read_ratio, FLAGS_key_space, FLAGS_value_size};
  Workload workload(wo);
  int connections = std::max(FLAGS_connections, 1);
  int clients = FLAGS_clients > 0 ? FLAGS_clients : connections;
  if (FLAGS_protocol != "grpc") connections = clients;  // one request per connection at a time
  absl::StatusOr<std::vector<std::unique_ptr<Target>>> targets = Connect(connections);
  if (!targets.ok()) {
    fprintf(stderr, "concordance-bench: cannot connect: %s\n", targets.status().ToString().c_str());
    return 1;
  }
  std::vector<Recorder> recorders(clients);
  auto sample = [&](uint64_t* ops, uint64_t* errors, uint64_t* p99) {
    Counts all;
    for (const Recorder& r : recorders) all.Merge(r.Snapshot());
    *ops = all.ok + all.conflicts;
    *errors = all.errors;
    *p99 = all.latency_ns.Quantile(0.99);
  };
  std::atomic<int64_t> budget{FLAGS_total};
  double cpu_before = SelfCpuSeconds();
  double server_before = ProcessCpuSeconds(pids);
  auto start = Clock::now();
  auto end = start + std::chrono::microseconds(static_cast<int64_t>(FLAGS_duration * 1e6));
  {
    ProgressLine progress(ProgressWanted(), sample);
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
      threads.emplace_back(RunClient, std::cref(workload), (*targets)[i % connections].get(), i, clients,
                           start, end, &budget, &recorders[i]);
    }
    for (std::thread& t : threads) t.join();
  }
  RunInfo info{FLAGS_protocol, FLAGS_workload, connections, clients,
               std::chrono::duration<double>(Clock::now() - start).count(), SelfCpuSeconds() - cpu_before};
  if (!pids.empty()) info.server_cpu_seconds = ProcessCpuSeconds(pids) - server_before;
  Counts all;
  for (const Recorder& r : recorders) all.Merge(r.Snapshot());
  PrintRequests(info, all, FLAGS_json);
  if (all.errors > 0) {
    fprintf(stderr, "%llu errors; the first: %s\n", static_cast<unsigned long long>(all.errors),
            all.first_error.c_str());
  }
  return all.errors > 0 && all.ok + all.conflicts == 0 ? 1 : 0;
}

int RunWatch(const std::vector<int>& pids) {
  if (FLAGS_protocol != "grpc") {
    fprintf(stderr, "concordance-bench: watch-latency subscribes over gRPC (--protocol=grpc)\n");
    return 2;
  }
  WatchLatencyOptions o;
  o.endpoints = Endpoints();
  o.api_key = ApiKey();
  o.subscribers = FLAGS_subscribers;
  o.shape = FLAGS_watch_shape;
  o.writes_per_second = FLAGS_rate;
  o.writers = FLAGS_writers;
  o.duration = std::chrono::milliseconds(static_cast<int64_t>(FLAGS_duration * 1000));
  o.value_size = FLAGS_value_size;
  o.timeout = std::chrono::milliseconds(FLAGS_timeout_ms);
  WatchProgress progress;
  double cpu_before = SelfCpuSeconds();
  double server_before = ProcessCpuSeconds(pids);
  absl::StatusOr<WatchLatencyResult> r;
  {
    ProgressLine line(ProgressWanted(), [&](uint64_t* ops, uint64_t* errors, uint64_t* p99) {
      *ops = progress.received.load();
      *errors = progress.errors.load();
      *p99 = 0;  // known at the end (acknowledgements and arrivals are matched then)
    });
    r = RunWatchLatency(o, &progress);
  }
  if (!r.ok()) {
    fprintf(stderr, "concordance-bench: %s\n", r.status().ToString().c_str());
    return absl::IsInvalidArgument(r.status()) ? 2 : 1;
  }
  RunInfo info{"grpc", "watch-latency", 0, FLAGS_subscribers, r->seconds, SelfCpuSeconds() - cpu_before};
  if (!pids.empty()) info.server_cpu_seconds = ProcessCpuSeconds(pids) - server_before;
  PrintWatchLatency(info, *r, FLAGS_subscribers, FLAGS_watch_shape, FLAGS_json);
  if (r->write_errors > 0) fprintf(stderr, "%llu write errors; the first: %s\n",
                                   static_cast<unsigned long long>(r->write_errors), r->first_error.c_str());
  if (!r->subscriber_error.empty()) fprintf(stderr, "%s\n", r->subscriber_error.c_str());
  if (r->received < r->expected) {
    fprintf(stderr, "concordance-bench: %llu notifications never arrived\n",
            static_cast<unsigned long long>(r->expected - r->received));
    return 1;
  }
  return r->writes == 0 ? 1 : 0;
}

int Main() {
  if (FLAGS_protocol != "grpc" && FLAGS_protocol != "http" && FLAGS_protocol != "websocket" &&
      FLAGS_protocol != "etcd") {
    fprintf(stderr, "concordance-bench: --protocol must be grpc, http, websocket or etcd\n");
    return 2;
  }
  if (Endpoints().empty() || FLAGS_duration <= 0 || FLAGS_rate < 0 || FLAGS_total < 0) {
    fprintf(stderr, "concordance-bench: need --endpoints, --duration > 0, --rate >= 0, --total >= 0\n");
    return 2;
  }
  absl::StatusOr<std::vector<int>> pids = ServerPids();
  if (!pids.ok()) {
    fprintf(stderr, "concordance-bench: %s\n", pids.status().message().data());
    return 2;
  }
  if (FLAGS_workload == "watch-latency") return RunWatch(*pids);
  if (FLAGS_protocol == "etcd" && FLAGS_workload == "cas-contention") {
    fprintf(stderr, "concordance-bench: cas-contention needs Concordance's CAS (not --protocol=etcd)\n");
    return 2;
  }
  absl::Status s = ValidateWorkload({FLAGS_workload, FLAGS_read_ratio, FLAGS_key_space, FLAGS_value_size});
  if (!s.ok()) {
    fprintf(stderr, "concordance-bench: %s\n", s.message().data());
    return 2;
  }
  return RunRequests(*pids);
}

}  // namespace
}  // namespace concordance::benchmark

int main(int argc, char** argv) {
  gflags::SetUsageMessage("concordance-bench --workload=W --protocol=P --endpoints=HOST:PORT,...");
  concordance::ParseFlagsWithHelp(
      &argc, &argv, "concordance-bench",
      "A load generator for Concordance (and etcd's JSON gateway).\n\n"
      "Usage:\n"
      "  concordance-bench --workload=put|get|mixed|cas-contention|watch-latency\n"
      "      --protocol=grpc|http|websocket|etcd --endpoints=HOST:PORT,... --connections=N --duration=S\n",
      "tools/concordance_bench.cc");
  return concordance::benchmark::Main();
}
