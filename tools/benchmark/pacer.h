// Pacer: when each request of a rate-limited client is due. The schedule
// is fixed in advance (start + i / rate), so a slow answer does not push
// the next requests back, and latency is measured from when a request was
// due, not from when it was sent (no coordinated omission). Rate 0: no
// limit, every request due when the previous one ended. Clients that share
// a rate take phases (`phase` of 1): client i of n starts i/n of an
// interval late, so n clients send evenly, not in bursts of n.
#ifndef CONCORDANCE_TOOLS_BENCHMARK_PACER_H_
#define CONCORDANCE_TOOLS_BENCHMARK_PACER_H_

#include <chrono>
#include <cstdint>
#include <thread>

namespace concordance::benchmark {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;
  Pacer(double per_second, Clock::time_point start, double phase = 0)
      : per_second_(per_second),
        start_(per_second > 0 ? start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * phase / per_second))
                              : start) {}

  // Waits until the next request is due; returns when it was due.
  Clock::time_point Wait() {
    if (per_second_ <= 0) return Clock::now();
    auto due = start_ + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * sent_++ / per_second_));
    std::this_thread::sleep_until(due);
    return due;
  }

 private:
  const double per_second_;
  const Clock::time_point start_;
  uint64_t sent_ = 0;
};

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_PACER_H_
