#include "tools/benchmark/report.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace concordance::benchmark {

namespace {

double Ms(uint64_t ns) { return ns / 1e6; }

std::string ServerCpuJson(const RunInfo& info, uint64_t units) {
  if (!info.server_cpu_seconds || units == 0) return "";
  char buf[64];
  snprintf(buf, sizeof(buf), ",\"server_cpu_us_per_op\":%.1f", *info.server_cpu_seconds * 1e6 / units);
  return buf;
}

std::string ServerCpuPerWriteJson(const RunInfo& info, uint64_t writes) {
  if (!info.server_cpu_seconds || writes == 0) return "";
  char buf[64];
  snprintf(buf, sizeof(buf), ",\"server_cpu_us_per_write\":%.1f", *info.server_cpu_seconds * 1e6 / writes);
  return buf;
}

}  // namespace

void PrintRequests(const RunInfo& info, const Counts& c, bool json) {
  const Histogram& h = c.latency_ns;
  uint64_t answered = c.ok + c.conflicts;
  double rate = answered / info.seconds;
  double cpu_us = answered ? info.client_cpu_seconds * 1e6 / answered : 0;
  if (json) {
    printf("{\"protocol\":\"%s\",\"workload\":\"%s\",\"connections\":%d,\"clients\":%d,\"seconds\":%.3f,"
           "\"ok\":%llu,\"conflicts\":%llu,\"errors\":%llu,\"per_second\":%.1f,\"p50_ms\":%.3f,"
           "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
           "\"client_cpu_us_per_op\":%.1f%s}\n",
           info.protocol.c_str(), info.workload.c_str(), info.connections, info.clients, info.seconds,
           static_cast<unsigned long long>(c.ok), static_cast<unsigned long long>(c.conflicts),
           static_cast<unsigned long long>(c.errors), rate, Ms(h.Quantile(0.5)), Ms(h.Quantile(0.9)),
           Ms(h.Quantile(0.99)), Ms(h.Quantile(0.999)), Ms(h.max()), cpu_us,
           ServerCpuJson(info, answered).c_str());
    return;
  }
  printf("%-9s %-14s %5s %7s %9s %9s %7s %10s %8s %8s %8s %8s %8s %10s\n", "protocol", "workload", "conns",
         "clients", "ok", "conflicts", "errors", "per sec", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
         "max ms", "cpu us/op");
  printf("%-9s %-14s %5d %7d %9llu %9llu %7llu %10.1f %8.3f %8.3f %8.3f %8.3f %8.3f %10.1f\n",
         info.protocol.c_str(), info.workload.c_str(), info.connections, info.clients,
         static_cast<unsigned long long>(c.ok), static_cast<unsigned long long>(c.conflicts),
         static_cast<unsigned long long>(c.errors), rate, Ms(h.Quantile(0.5)), Ms(h.Quantile(0.9)),
         Ms(h.Quantile(0.99)), Ms(h.Quantile(0.999)), Ms(h.max()), cpu_us);
  if (info.server_cpu_seconds && answered) {
    printf("server CPU: %.1f us per operation\n", *info.server_cpu_seconds * 1e6 / answered);
  }
}

void PrintWatchLatency(const RunInfo& info, const WatchLatencyResult& r, int subscribers,
                       const std::string& shape, bool json) {
  const Histogram& h = r.latency_ns;
  double notify_rate = r.received / r.seconds;
  if (json) {
    printf("{\"workload\":\"watch-latency\",\"shape\":\"%s\",\"subscribers\":%d,\"seconds\":%.3f,"
           "\"writes\":%llu,\"write_errors\":%llu,\"writes_per_second\":%.1f,\"expected\":%llu,"
           "\"received\":%llu,\"before_ack\":%llu,\"notifications_per_second\":%.1f,\"p50_ms\":%.3f,"
           "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
           "\"from_send_p50_ms\":%.3f,\"from_send_p99_ms\":%.3f,"
           "\"client_cpu_us_per_notification\":%.1f%s%s}\n",
           shape.c_str(), subscribers, r.seconds, static_cast<unsigned long long>(r.writes),
           static_cast<unsigned long long>(r.write_errors), r.writes / r.seconds,
           static_cast<unsigned long long>(r.expected), static_cast<unsigned long long>(r.received),
           static_cast<unsigned long long>(r.before_ack), notify_rate, Ms(h.Quantile(0.5)),
           Ms(h.Quantile(0.9)), Ms(h.Quantile(0.99)), Ms(h.Quantile(0.999)), Ms(h.max()),
           Ms(r.from_send_ns.Quantile(0.5)), Ms(r.from_send_ns.Quantile(0.99)),
           r.received ? info.client_cpu_seconds * 1e6 / r.received : 0,
           ServerCpuJson(info, r.received).c_str(), ServerCpuPerWriteJson(info, r.writes).c_str());
    return;
  }
  printf("%-8s %6s %8s %7s %10s %10s %10s %8s %8s %8s %8s %8s\n", "shape", "subs", "writes", "errors",
         "expected", "received", "notify/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms");
  printf("%-8s %6d %8llu %7llu %10llu %10llu %10.1f %8.3f %8.3f %8.3f %8.3f %8.3f\n", shape.c_str(),
         subscribers, static_cast<unsigned long long>(r.writes),
         static_cast<unsigned long long>(r.write_errors), static_cast<unsigned long long>(r.expected),
         static_cast<unsigned long long>(r.received), notify_rate, Ms(h.Quantile(0.5)),
         Ms(h.Quantile(0.9)), Ms(h.Quantile(0.99)), Ms(h.Quantile(0.999)), Ms(h.max()));
  printf("%llu notifications arrived before their write's acknowledgement (counted as 0 ms); "
         "from the write's send: p50 %.3f ms, p99 %.3f ms\n",
         static_cast<unsigned long long>(r.before_ack), Ms(r.from_send_ns.Quantile(0.5)),
         Ms(r.from_send_ns.Quantile(0.99)));
  if (info.server_cpu_seconds && r.received) {
    printf("server CPU: %.1f us per notification\n", *info.server_cpu_seconds * 1e6 / r.received);
  }
}

struct ProgressLine::State {
  absl::Mutex mu;
  bool stop ABSL_GUARDED_BY(mu) = false;
  std::thread thread;
};

ProgressLine::ProgressLine(bool enabled, std::function<void(uint64_t*, uint64_t*, uint64_t*)> sample)
    : state_(new State) {
  if (!enabled) return;
  state_->thread = std::thread([state = state_, sample = std::move(sample)] {
    auto start = std::chrono::steady_clock::now();
    uint64_t last_ops = 0;
    auto last = start;
    absl::MutexLock l(&state->mu);
    while (!state->mu.AwaitWithTimeout(absl::Condition(&state->stop), absl::Seconds(1))) {
      uint64_t ops = 0, errors = 0, p99 = 0;
      sample(&ops, &errors, &p99);
      auto now = std::chrono::steady_clock::now();
      double dt = std::chrono::duration<double>(now - last).count();
      fprintf(stderr, "\r%6.1f s  %10.1f ops/s  %8llu errors  p99 %8.3f ms ",
              std::chrono::duration<double>(now - start).count(), (ops - last_ops) / dt,
              static_cast<unsigned long long>(errors), Ms(p99));
      last_ops = ops;
      last = now;
    }
    fprintf(stderr, "\n");
  });
}

ProgressLine::~ProgressLine() {
  {
    absl::MutexLock l(&state_->mu);
    state_->stop = true;
  }
  if (state_->thread.joinable()) state_->thread.join();
  delete state_;
}

double ProcessCpuSeconds(const std::vector<int>& pids) {
  static const double kTick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = text.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 2));
    std::string f;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::stod(f);
      if (i == 15) stime = std::stod(f);
    }
    total += (utime + stime) / kTick;
  }
  return total;
}

double SelfCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

}  // namespace concordance::benchmark
