// The watch-latency workload: N gRPC Watch subscribers spread over the
// endpoints, and writers (following the leader) at a fixed total rate.
// Latency is, for every notification, the time from its write's
// acknowledgement at the writer to its arrival at the subscriber (0 when
// it arrived first; those are counted), and also from when the write was
// sent (what etcd's benchmark reports). Two shapes:
//   spread  subscriber i watches namespace <tenant>/s<i>; write j goes to
//           the namespace of subscriber j mod N (one notification each)
//   fanout  every subscriber watches the tenant; every write notifies all
// Rate 0 writes as fast as answered (each writer closed-loop), which with
// 0 subscribers and then with N measures what subscribers cost the write
// rate.
#ifndef CONCORDANCE_TOOLS_BENCHMARK_WATCH_LATENCY_H_
#define CONCORDANCE_TOOLS_BENCHMARK_WATCH_LATENCY_H_

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/benchmark/histogram.h"

namespace concordance::benchmark {

struct WatchLatencyOptions {
  std::vector<std::string> endpoints;
  std::string api_key;
  int subscribers = 10;  // 0: writes only (a baseline)
  std::string shape = "spread";
  double writes_per_second = 100;  // 0: as fast as answered
  int writers = 4;
  std::chrono::milliseconds duration{10000};
  int value_size = 256;
  std::chrono::milliseconds timeout{10000};
  std::string tenant;  // "" = a fresh one per run
};

struct WatchLatencyResult {
  Histogram latency_ns;            // from the write's acknowledgement
  Histogram from_send_ns;          // from when the write was sent
  uint64_t writes = 0;         // acknowledged
  uint64_t write_errors = 0;
  uint64_t expected = 0;       // notifications the acknowledged writes make
  uint64_t received = 0;       // of those, delivered by the end
  uint64_t before_ack = 0;     // delivered before the write's acknowledgement
  double seconds = 0;          // the writing phase
  std::string first_error;
  std::string subscriber_error;  // the first watch the server ended, if any
};

// Progress while running: notifications received so far.
struct WatchProgress {
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> errors{0};
};

absl::StatusOr<WatchLatencyResult> RunWatchLatency(const WatchLatencyOptions& options,
                                                   WatchProgress* progress);

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_WATCH_LATENCY_H_
