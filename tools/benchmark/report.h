// concordance-bench's output: a progress line on a terminal while it runs,
// then one table row (with its header) or one JSON object.
#ifndef CONCORDANCE_TOOLS_BENCHMARK_REPORT_H_
#define CONCORDANCE_TOOLS_BENCHMARK_REPORT_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tools/benchmark/recorder.h"
#include "tools/benchmark/watch_latency.h"

namespace concordance::benchmark {

struct RunInfo {
  std::string protocol;
  std::string workload;
  int connections = 0;
  int clients = 0;
  double seconds = 0;
  double client_cpu_seconds = 0;
  std::optional<double> server_cpu_seconds;  // with --server-pids
};

void PrintRequests(const RunInfo& info, const Counts& counts, bool json);
void PrintWatchLatency(const RunInfo& info, const WatchLatencyResult& r, int subscribers,
                       const std::string& shape, bool json);

// Prints "elapsed, ops/s, errors, p99 so far" to stderr every second until
// stopped (only when stderr is a terminal, unless forced).
class ProgressLine {
 public:
  // `sample` returns (operations answered, errors, p99 ns) so far.
  ProgressLine(bool enabled, std::function<void(uint64_t*, uint64_t*, uint64_t*)> sample);
  ~ProgressLine();

 private:
  struct State;
  State* state_;
};

// CPU seconds (user + system) the processes have used, from /proc.
double ProcessCpuSeconds(const std::vector<int>& pids);
double SelfCpuSeconds();

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_REPORT_H_
