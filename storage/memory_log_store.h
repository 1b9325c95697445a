// MemoryLogStore: a LogStore kept in memory, for the Raft tests and the
// simulator, where "durable" means "survives a simulated crash of the node
// that owns it" (the simulator keeps the store and discards the node).
#ifndef CONCORDANCE_STORAGE_MEMORY_LOG_STORE_H_
#define CONCORDANCE_STORAGE_MEMORY_LOG_STORE_H_

#include <deque>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/log_store.h"

namespace concordance::storage {

class MemoryLogStore : public LogStore {
 public:
  MemoryLogStore() = default;

  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                       std::vector<raft::LogEntry>* out) const override;
  absl::StatusOr<raft::LogEntry> LastConfigEntry(
      uint64_t max_index) const override;
  raft::HardState hard_state() const override;
  raft::SnapshotMeta snapshot_meta() const override;
  absl::StatusOr<Snapshot> LoadSnapshot() const override;
  raft::ConfState conf_state() const override;

  absl::Status Save(const raft::HardState* hard_state,
                    absl::Span<const raft::LogEntry> entries,
                    const raft::ConfState* conf_state) override;
  absl::Status SaveSnapshot(const Snapshot& snapshot) override;
  absl::Status InstallSnapshot(const Snapshot& snapshot) override;
  absl::Status WriteSnapshotImage(const Snapshot& snapshot) const override;
  absl::Status CommitSnapshot(const raft::SnapshotMeta& meta) override;
  bool ImageWanted() const override;

 private:
  uint64_t FirstIndexLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t LastIndexLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CompactLocked(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // entries_[i] has index offset_ + i; offset_ is the first index kept.
  std::deque<raft::LogEntry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t offset_ ABSL_GUARDED_BY(mu_) = 1;
  raft::HardState hard_state_ ABSL_GUARDED_BY(mu_);
  raft::ConfState conf_state_ ABSL_GUARDED_BY(mu_);
  Snapshot snapshot_ ABSL_GUARDED_BY(mu_);  // data null: no image
  // Images written and not yet committed (or overtaken), by (index, term):
  // they survive a crash as RaftLog's files do.
  mutable std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<const std::string>> images_
      ABSL_GUARDED_BY(mu_);
  mutable bool image_wanted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_MEMORY_LOG_STORE_H_
