// Fsm: the replicated state machine of a node. It applies committed log
// entries to the KvStore (one SQLite transaction per batch, applied index
// included) and then publishes each change to the Hub, so watchers on any
// node see a change once that node has applied it.
//
// Threads: Apply, Restore and Serialize run on the Raft loop only.
#ifndef CONCORDANCE_CONCORDANCE_FSM_H_
#define CONCORDANCE_CONCORDANCE_FSM_H_

#include <atomic>
#include <string>
#include <vector>

#include "concordance/hub.h"
#include "concordance/leader_clock.h"
#include "storage/kv_store.h"
#include "util/metrics.h"

namespace concordance {

class Fsm {
 public:
  // `clock` (may be null) is told the leader's timestamp of each change
  // applied.
  Fsm(storage::KvStore* store, Hub* hub, metrics::Registry* metrics, LeaderClock* clock = nullptr);

  absl::Status Apply(absl::Span<const raft::LogEntry> entries,
                     std::vector<storage::CommandResult>* results);
  // Replaces the state with a snapshot image and lets watchers catch up.
  absl::Status Restore(const std::string& image);

  uint64_t applied_index() const { return store_->AppliedIndex(); }
  // Newest changelog seq applied on this node.
  int64_t last_seq() const { return last_seq_.load(); }
  storage::KvStore* store() { return store_; }

 private:
  storage::KvStore* store_;
  Hub* hub_;
  LeaderClock* clock_;
  std::atomic<int64_t> last_seq_{0};
  metrics::Histogram* apply_seconds_;
  metrics::Counter* applied_commands_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_FSM_H_
