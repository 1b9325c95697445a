// RaftLog: the SQLite LogStore, one file `raft.db` per node.
//
// On-disk schema (seed 004 plus a snapshot table):
//   log(idx INTEGER PRIMARY KEY, term INTEGER, type INTEGER, data BLOB)
//       type: 0 = COMMAND, 1 = CONFIG, 2 = NOOP; data: the entry's bytes.
//   meta(key TEXT PRIMARY KEY, value TEXT)
//       currentTerm, votedFor, commitIndex     the Raft hard state
//       lastIncludedIndex, lastIncludedTerm,   the latest snapshot's metadata
//       snapshotConf, snapshotSize, snapshotChecksum
//       confState                              the cluster configuration
//                                              (protobuf text format)
//       schemaVersion
//   snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB)
//       the latest snapshot's state-machine image (a serialized state.db).
//
// Durability: journal_mode=WAL with synchronous=FULL, so every COMMIT is
// fsynced before it returns. Each write method is one transaction, so a
// batch of entries plus the hard state costs one fsync (group commit).
// Snapshot data and metadata commit in the same transaction that deletes the
// entries they cover, so the log is never compacted past a durable snapshot.
//
// Threads: one writer thread (Save/SaveSnapshot/InstallSnapshot) and any
// number of reader threads. Writes use their own connection; reads share a
// second connection under a lock; both see only committed data. The hot
// metadata (first/last index, hard state, snapshot meta) is cached in memory.
#ifndef CONCORDANCE_STORAGE_RAFT_LOG_H_
#define CONCORDANCE_STORAGE_RAFT_LOG_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/log_store.h"
#include "storage/sqlite.h"

namespace concordance::storage {

class RaftLog : public LogStore {
 public:
  // Opens or creates raft.db at `path`.
  static absl::StatusOr<std::unique_ptr<RaftLog>> Open(const std::string& path);

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

  // True when the store holds nothing yet: no entries, no snapshot, term 0.
  bool IsEmpty() const;

  // Other values kept in `meta` (e.g. nodeId). Writer thread only.
  absl::StatusOr<std::optional<std::string>> ReadMeta(const std::string& key);
  absl::Status WriteMeta(const std::string& key, const std::string& value);

 private:
  RaftLog(std::unique_ptr<Connection> writer, std::unique_ptr<Connection> reader)
      : writer_(std::move(writer)), reader_(std::move(reader)) {}
  absl::Status Init();
  absl::Status Load();
  absl::Status PutMeta(absl::string_view key, absl::string_view value);
  absl::Status PutSnapshotLocked(const Snapshot& snapshot);

  // Writer connection: only the writer thread touches it.
  std::unique_ptr<Connection> writer_;

  mutable absl::Mutex read_mu_;
  std::unique_ptr<Connection> reader_ ABSL_GUARDED_BY(read_mu_);

  mutable absl::Mutex mu_;
  uint64_t first_index_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t last_index_ ABSL_GUARDED_BY(mu_) = 0;
  raft::HardState hard_state_ ABSL_GUARDED_BY(mu_);
  raft::SnapshotMeta snapshot_meta_ ABSL_GUARDED_BY(mu_);
  raft::ConfState conf_state_ ABSL_GUARDED_BY(mu_);
  // Cache of the latest snapshot's data, filled on first load.
  mutable std::shared_ptr<const std::string> snapshot_data_ ABSL_GUARDED_BY(mu_);
};

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_RAFT_LOG_H_
