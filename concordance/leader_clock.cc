#include "concordance/leader_clock.h"

namespace concordance {

void LeaderClock::Observe(int64_t leader_ms) {
  if (leader_ms <= 0) return;
  absl::MutexLock l(&mu_);
  observed_ = true;
  leader_ms_ = leader_ms;
  observed_at_ = std::chrono::steady_clock::now();
}

int64_t LeaderClock::NowMs() const {
  if (is_leader_ && is_leader_()) return wall_->NowMs();
  absl::MutexLock l(&mu_);
  if (!observed_) return wall_->NowMs();
  auto since = std::chrono::steady_clock::now() - observed_at_;
  return leader_ms_ +
         std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
}

}  // namespace concordance
