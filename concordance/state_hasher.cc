#include "concordance/state_hasher.h"

namespace concordance {

StateHasher::StateHasher(const storage::KvStore* store, Worker* worker,
                         metrics::Registry* metrics)
    : store_(store), worker_(worker) {
  computed_ = metrics->GetCounter("concordance_state_hashes_computed_total",
                                  "State hashes computed for /cluster/status (one per applied "
                                  "index asked about).");
}

void StateHasher::Get(std::function<void(absl::StatusOr<StateHash>)> done) {
  uint64_t applied = store_->AppliedIndex();
  {
    absl::ReleasableMutexLock l(&mu_);
    if (cached_ && cached_->applied_index >= applied) {
      StateHash h = *cached_;
      l.Release();
      return done(std::move(h));
    }
    waiting_.emplace_back(applied, std::move(done));
    if (computing_) return;
    computing_ = true;
  }
  worker_->Post([this] { Compute(); });
}

void StateHasher::Compute() {
  while (true) {
    uint64_t at = 0;
    absl::StatusOr<std::string> hash = store_->ContentHash(&at);
    computed_->Inc();
    std::vector<std::function<void(absl::StatusOr<StateHash>)>> answer;
    bool again = false;
    {
      absl::MutexLock l(&mu_);
      if (hash.ok()) cached_ = StateHash{*hash, at};
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (!hash.ok() || it->first <= at) {
          answer.push_back(std::move(it->second));
          it = waiting_.erase(it);
        } else {
          ++it;
        }
      }
      again = !waiting_.empty();  // asked after this hash's read began
      computing_ = again;
    }
    for (auto& fn : answer) {
      if (hash.ok()) {
        fn(StateHash{*hash, at});
      } else {
        fn(hash.status());
      }
    }
    if (!again) return;
  }
}

}  // namespace concordance
