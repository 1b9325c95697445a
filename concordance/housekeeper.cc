#include "concordance/housekeeper.h"

#include <algorithm>

#include "glog/logging.h"

namespace concordance {

Housekeeper::Housekeeper(Options options, const storage::KvStore* store, NodeDriver* driver,
                         const Clock* clock, metrics::Registry* metrics)
    : options_(options), store_(store), driver_(driver), clock_(clock) {
  expired_ = metrics->GetCounter("concordance_ttl_expire_ops_proposed_total",
                                 "Expire ops proposed by this node as leader.");
  trims_ = metrics->GetCounter("concordance_changelog_trims_total",
                               "Changelog trims proposed by this node as leader.");
}

void Housekeeper::Start() {
  driver_->RunAfter(options_.interval_ms, [this] { Run(); });
}

void Housekeeper::Run() {
  if (driver_->IsLeader()) {
    ExpireDue();
    TrimChangelog();
  }
  driver_->RunAfter(options_.interval_ms, [this] { Run(); });
}

void Housekeeper::ExpireDue() {
  if (expire_in_flight_) return;
  int64_t now = clock_->NowMs();
  absl::StatusOr<std::vector<kv::ExpireOp>> due = store_->DueExpirations(now, options_.max_expire_batch);
  if (!due.ok()) {
    LOG_EVERY_N(WARNING, 100) << "cannot look for due entries: " << due.status();
    return;
  }
  if (due->empty()) return;
  kv::Command cmd;
  cmd.set_timestamp_ms(now);
  cmd.set_actor("system:ttl");
  for (kv::ExpireOp& op : *due) *cmd.mutable_expire()->add_ops() = std::move(op);
  expired_->Inc(cmd.expire().ops_size());
  expire_in_flight_ = true;
  // The callback runs on the loop, like this function.
  driver_->Propose(cmd.SerializeAsString(), [this](absl::StatusOr<storage::CommandResult>) {
    expire_in_flight_ = false;
  });
}

void Housekeeper::TrimChangelog() {
  int64_t now = clock_->NowMs();
  if (trim_in_flight_ || now < next_retention_check_) return;
  next_retention_check_ = now + options_.retention_check_ms;
  absl::StatusOr<int64_t> oldest = store_->OldestSeq();
  absl::StatusOr<int64_t> last = store_->LastSeq();
  if (!oldest.ok() || !last.ok()) return;
  int64_t rows = *last - *oldest + 1;  // seqs are contiguous in the changelog
  const int64_t retention = options_.changelog_retention;
  if (!trimming_ && rows <= retention + retention / 10) return;
  if (rows <= retention) {
    trimming_ = false;
    return;
  }
  int64_t keep = std::max(retention, rows - options_.max_trim_rows);
  trimming_ = keep > retention;
  if (trimming_) next_retention_check_ = now;  // the next step on the next run
  kv::Command cmd;
  cmd.set_timestamp_ms(now);
  cmd.set_actor("system:retention");
  cmd.mutable_trim_changelog()->set_keep(keep);
  trims_->Inc();
  trim_in_flight_ = true;
  driver_->Propose(cmd.SerializeAsString(), [this](absl::StatusOr<storage::CommandResult>) {
    trim_in_flight_ = false;
  });
}

}  // namespace concordance
