// Clock: where the node reads wall time (for the leader-chosen timestamps
// and expiry decisions carried inside commands). Injected so tests can
// control it; timers and timeouts use the monotonic clock of the event loop.
#ifndef CONCORDANCE_CONCORDANCE_CLOCK_H_
#define CONCORDANCE_CONCORDANCE_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace concordance {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time in milliseconds.
  virtual int64_t NowMs() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_CLOCK_H_
