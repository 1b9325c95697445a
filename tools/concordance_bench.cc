// concordance-bench: a load generator for Concordance over gRPC (the
// generated client) and REST. Each client is a thread issuing one request
// at a time; clients share `--connections` connections round-robin (over
// HTTP/1.1 every client needs its own, so --connections is the client
// count). Latencies go into a histogram per thread, merged at the end.
//
//   concordance-bench --protocol=grpc --connections=64 --duration=10
//
// Workload `put`: values of --value-size bytes of JSON at random keys of a
// --key-space keys. Prints one table row (or --json) with throughput,
// p50/p90/p99/p99.9/max of the acknowledged requests, errors (not retried)
// and the generator's own CPU per request. The load is closed-loop (each
// client waits for its answer), so the percentiles are those of the
// requests sent, not of a fixed arrival rate.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"
#include "tools/benchmark/histogram.h"
#include "tools/benchmark/target.h"

DEFINE_string(endpoints, "127.0.0.1:4100", "comma-separated host:port; connections go round-robin");
DEFINE_string(protocol, "grpc", "grpc or http (REST)");
DEFINE_string(workload, "put", "put");
DEFINE_int32(connections, 1, "connections (for http: also the number of clients)");
DEFINE_int32(clients, 0, "concurrent clients (0 = one per connection)");
DEFINE_double(duration, 10, "seconds to run (when --total is 0)");
DEFINE_int64(total, 0, "requests to issue in all (0 = run for --duration)");
DEFINE_int32(value_size, 256, "bytes of each value's JSON text");
DEFINE_int32(key_space, 10000, "distinct keys written");
DEFINE_string(ns, "tenant:bench/settings", "namespace written to");
DEFINE_string(api_key, "", "API key (default: $CONCORDANCE_API_KEY)");
DEFINE_int32(timeout_ms, 10000, "deadline of one request");
DEFINE_bool(json, false, "print the result as one JSON object");

namespace concordance::benchmark {
namespace {

using Clock = std::chrono::steady_clock;

struct ClientResult {
  Histogram latency_ns;
  uint64_t errors = 0;
  std::string first_error;
};

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

// The value: a JSON string of exactly `size` bytes (quotes included).
std::string ValueJson(int size) { return "\"" + std::string(std::max(size - 2, 0), 'v') + "\""; }

absl::StatusOr<std::vector<std::unique_ptr<Target>>> Connect(int connections) {
  std::vector<std::string> endpoints = absl::StrSplit(FLAGS_endpoints, ',', absl::SkipEmpty());
  if (endpoints.empty()) return absl::InvalidArgumentError("--endpoints is empty");
  std::string key = FLAGS_api_key;
  if (key.empty() && getenv("CONCORDANCE_API_KEY") != nullptr) key = getenv("CONCORDANCE_API_KEY");
  std::vector<std::unique_ptr<Target>> targets;
  for (int i = 0; i < connections; ++i) {
    TargetOptions o{endpoints[i % endpoints.size()], key, FLAGS_ns,
                    std::chrono::milliseconds(FLAGS_timeout_ms)};
    auto t = FLAGS_protocol == "grpc" ? GrpcTarget(o) : HttpTarget(o);
    if (!t.ok()) return t.status();
    targets.push_back(std::move(*t));
  }
  return targets;
}

void RunClient(Target* target, int id, Clock::time_point end, std::atomic<int64_t>* budget,
               ClientResult* out) {
  std::minstd_rand rng(static_cast<uint32_t>(id * 7919 + 1));
  const std::string value = ValueJson(FLAGS_value_size);
  for (;;) {
    if (FLAGS_total > 0 ? budget->fetch_sub(1) <= 0 : Clock::now() >= end) return;
    std::string key = absl::StrCat("k", rng() % static_cast<uint32_t>(FLAGS_key_space));
    auto start = Clock::now();
    absl::Status s = target->Put(key, value);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    if (s.ok()) {
      out->latency_ns.Record(static_cast<uint64_t>(ns));
    } else if (out->errors++ == 0) {
      out->first_error = s.ToString();
    }
  }
}

int Main() {
  if (FLAGS_protocol != "grpc" && FLAGS_protocol != "http") {
    fprintf(stderr, "--protocol must be grpc or http\n");
    return 2;
  }
  if (FLAGS_workload != "put") {
    fprintf(stderr, "--workload must be put\n");
    return 2;
  }
  if (FLAGS_key_space < 1 || FLAGS_value_size < 2 || FLAGS_duration <= 0) {
    fprintf(stderr, "--key_space must be >= 1, --value_size >= 2, --duration > 0\n");
    return 2;
  }
  int connections = std::max(FLAGS_connections, 1);
  int clients = FLAGS_clients > 0 ? FLAGS_clients : connections;
  if (FLAGS_protocol == "http") connections = clients;  // HTTP/1.1: one request per connection at a time
  absl::StatusOr<std::vector<std::unique_ptr<Target>>> targets = Connect(connections);
  if (!targets.ok()) {
    fprintf(stderr, "cannot connect: %s\n", targets.status().ToString().c_str());
    return 1;
  }
  std::vector<ClientResult> results(clients);
  std::atomic<int64_t> budget{FLAGS_total};
  double cpu_before = CpuSeconds();
  auto start = Clock::now();
  auto end = start + std::chrono::microseconds(static_cast<int64_t>(FLAGS_duration * 1e6));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(RunClient, (*targets)[i % connections].get(), i, end, &budget, &results[i]);
  }
  for (std::thread& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = CpuSeconds() - cpu_before;
  Histogram all;
  uint64_t errors = 0;
  std::string first_error;
  for (const ClientResult& r : results) {
    all.Merge(r.latency_ns);
    errors += r.errors;
    if (first_error.empty()) first_error = r.first_error;
  }
  auto ms = [&](double q) { return all.Quantile(q) / 1e6; };
  double rate = all.count() / seconds;
  double cpu_us = all.count() ? cpu * 1e6 / all.count() : 0;
  if (FLAGS_json) {
    printf("{\"protocol\":\"%s\",\"workload\":\"%s\",\"connections\":%d,\"clients\":%d,\"seconds\":%.3f,"
           "\"ok\":%llu,\"errors\":%llu,\"per_second\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"client_cpu_us_per_op\":%.1f}\n",
           FLAGS_protocol.c_str(), FLAGS_workload.c_str(), connections, clients, seconds,
           static_cast<unsigned long long>(all.count()), static_cast<unsigned long long>(errors), rate,
           ms(0.5), ms(0.9), ms(0.99), ms(0.999), all.max() / 1e6, cpu_us);
  } else {
    printf("%-8s %-8s %5s %7s %9s %7s %10s %8s %8s %8s %8s %8s %12s\n", "protocol", "workload", "conns",
           "clients", "ok", "errors", "per sec", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
           "cpu us/op");
    printf("%-8s %-8s %5d %7d %9llu %7llu %10.1f %8.3f %8.3f %8.3f %8.3f %8.3f %12.1f\n",
           FLAGS_protocol.c_str(), FLAGS_workload.c_str(), connections, clients,
           static_cast<unsigned long long>(all.count()), static_cast<unsigned long long>(errors), rate,
           ms(0.5), ms(0.9), ms(0.99), ms(0.999), all.max() / 1e6, cpu_us);
  }
  if (errors > 0) fprintf(stderr, "%llu errors; the first: %s\n", static_cast<unsigned long long>(errors), first_error.c_str());
  return errors > 0 && all.count() == 0 ? 1 : 0;
}

}  // namespace
}  // namespace concordance::benchmark

int main(int argc, char** argv) {
  gflags::SetUsageMessage("concordance-bench --protocol=grpc|http --connections=N --duration=S");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return concordance::benchmark::Main();
}
