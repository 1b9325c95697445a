#include "concordance/fsm.h"

#include <chrono>

#include "glog/logging.h"

namespace concordance {

Fsm::Fsm(storage::KvStore* store, Hub* hub, metrics::Registry* metrics, LeaderClock* clock)
    : store_(store), hub_(hub), clock_(clock) {
  absl::StatusOr<int64_t> last = store_->LastSeq();
  CHECK(last.ok()) << last.status();
  last_seq_ = *last;
  hub_->SetPublishedSeq(*last);
  apply_seconds_ = metrics->GetHistogram("concordance_apply_duration_seconds",
                                         "Time to apply one batch of committed entries.",
                                         metrics::LatencyBuckets());
  applied_commands_ = metrics->GetCounter("concordance_applied_commands_total",
                                          "Commands applied to the state machine.");
}

absl::Status Fsm::Apply(absl::Span<const raft::LogEntry> entries,
                        std::vector<storage::CommandResult>* results) {
  if (entries.empty()) return absl::OkStatus();
  auto start = std::chrono::steady_clock::now();
  size_t first = results->size();
  absl::Status s = store_->Apply(entries, results);
  if (!s.ok()) return s;
  apply_seconds_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  applied_commands_->Inc(results->size() - first);
  const v1::ChangeEvent* last = nullptr;
  for (size_t i = first; i < results->size(); ++i) {
    if (!(*results)[i].changes.empty()) last = &(*results)[i].changes.back();
  }
  if (last != nullptr) {
    if (clock_ != nullptr) clock_->Observe(last->timestamp());
    last_seq_ = last->seq();
    hub_->Publish(last->seq(), [&] {
      Hub::Changes changes;
      for (size_t i = first; i < results->size(); ++i) {
        for (const v1::ChangeEvent& c : (*results)[i].changes) {
          changes.push_back(std::make_shared<const v1::ChangeEvent>(c));
        }
      }
      return changes;
    });
  }
  return absl::OkStatus();
}

absl::Status Fsm::Restore(const std::string& image) {
  absl::Status s = store_->Restore(image);
  if (!s.ok()) return s;
  absl::StatusOr<int64_t> last = store_->LastSeq();
  if (!last.ok()) return last.status();
  last_seq_ = *last;
  hub_->CatchUp();
  return absl::OkStatus();
}

}  // namespace concordance
