// LeaderClock: the wall time a node answers reads by — whether an entry
// has expired — and, on the leader, stamps writes with. The leader's clock
// decides (docs/api.md, "TTL"): the leader reads its own; a follower
// extrapolates the leader's from the timestamp of the last change it
// applied (stamped by the leader) plus its own monotonic time since, so a
// follower whose wall clock is skewed still answers as the leader would
// (within the commit latency) instead of hiding entries early or showing
// them late. Before a follower has applied anything it reads its own.
//
// Thread-safe.
#ifndef CONCORDANCE_CONCORDANCE_LEADER_CLOCK_H_
#define CONCORDANCE_CONCORDANCE_LEADER_CLOCK_H_

#include <atomic>
#include <chrono>
#include <functional>

#include "absl/synchronization/mutex.h"
#include "concordance/clock.h"

namespace concordance {

class LeaderClock : public Clock {
 public:
  explicit LeaderClock(const Clock* wall) : wall_(wall) {}

  // Whether this node leads now (set once the driver exists).
  void set_is_leader(std::function<bool()> is_leader) {
    is_leader_ = std::move(is_leader);
  }
  // A change stamped `leader_ms` by the leader was just applied here.
  void Observe(int64_t leader_ms);

  int64_t NowMs() const override;

 private:
  const Clock* wall_;
  std::function<bool()> is_leader_;
  mutable absl::Mutex mu_;
  bool observed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t leader_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point observed_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_LEADER_CLOCK_H_
