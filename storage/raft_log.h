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
//       nodeId, schemaVersion
// A snapshot record with snapshotSize 0 is a compaction point without an
// image: state.db was fsynced at or past that index before the entries
// were deleted, so it needs no image to be rebuilt. This is how a node
// compacts its own log (as etcd does), since a 50 MB image per compaction
// competed with group commit for CPU and disk and made whole clusters
// miss heartbeats under load. An image is made only on demand: when the
// Raft core asks LoadSnapshot() for one to send a lagging follower, it gets
// Unavailable, ImageWanted() turns true, and the node driver serializes
// state.db at its applied index and records that as the new snapshot.
//
// Snapshot images live beside raft.db in snapshots/snap-<index>-<term>.db
// (a serialized state.db), written to a temporary name, fsynced, renamed
// and the directory fsynced — before the raft.db transaction that records
// their metadata and deletes the entries they cover. So the log is never
// compacted past a durable snapshot, and a crash in between leaves only an
// unreferenced file, removed at the next open.
//
// Durability: journal_mode=WAL with synchronous=FULL, so every COMMIT is
// fsynced before it returns. Each write method is one transaction, so a
// batch of entries plus the hard state costs one fsync (group commit).
//
// Memory: the newest entries (up to kTailEntries / kTailBytes) are also
// kept in memory, so the Raft core's lookups of recent terms and entries —
// its hot path — never touch SQLite (whose reader page cache is invalidated
// by every write of the writer thread).
//
// Threads: one writer thread (Save/SaveSnapshot/CommitSnapshot/
// InstallSnapshot) and any number of reader threads; WriteSnapshotImage may
// run on any thread. Writes use their own connection; reads share a
// second connection under a lock; both see only committed data. The hot
// metadata (first/last index, hard state, snapshot meta) is cached in memory.
#ifndef CONCORDANCE_STORAGE_RAFT_LOG_H_
#define CONCORDANCE_STORAGE_RAFT_LOG_H_

#include <atomic>
#include <deque>
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

  absl::Status WriteSnapshotImage(const Snapshot& snapshot) const override;  // a file
  absl::Status CommitSnapshot(const raft::SnapshotMeta& meta) override;
  bool ImageWanted() const override { return image_wanted_.load(); }

  // Copies committed WAL frames into raft.db without blocking the writer
  // (a PASSIVE checkpoint on a connection of its own). Commits never
  // checkpoint themselves, so a background thread must call this regularly
  // (any one thread; not the writer).
  absl::Status CheckpointWal();

  // Other values kept in `meta` (e.g. nodeId). Writer thread only.
  absl::StatusOr<std::optional<std::string>> ReadMeta(const std::string& key);
  absl::Status WriteMeta(const std::string& key, const std::string& value);

 private:
  RaftLog(std::unique_ptr<Connection> writer, std::unique_ptr<Connection> reader,
          std::string snapshot_dir)
      : writer_(std::move(writer)), snapshot_dir_(std::move(snapshot_dir)),
        reader_(std::move(reader)) {}
  absl::Status Load();
  absl::Status PutMeta(absl::string_view key, absl::string_view value);
  absl::Status PutSnapshotMeta(const raft::SnapshotMeta& m);
  std::string SnapshotPath(const raft::SnapshotMeta& m) const;
  // Removes snapshot files other than the current one (and temporaries).
  void RemoveStaleSnapshotFiles() const;

  // Compacted rows are deleted at most this many, holding at most this much
  // entry data (each plus twice what the transaction appends, so the purge
  // always catches up), per transaction; rows in [purged_below_,
  // first_index_) wait. Deleting a row reads and frees its overflow pages:
  // after a bulk load 32 rows were 1.3 MB, in every group commit.
  static constexpr uint64_t kPurgeRows = 32;
  static constexpr uint64_t kPurgeBytes = 256 << 10;
  // The end of the next purge chunk: at most `max_rows` rows and, past its
  // first row, at most `max_bytes` of entry data.
  absl::StatusOr<uint64_t> PurgeEnd(uint64_t max_rows, uint64_t max_bytes) const;
  // `end`, or earlier where the rows from purged_below_ on pass `max_bytes`.
  absl::StatusOr<uint64_t> PurgeEndByBytes(uint64_t end, uint64_t max_bytes) const;
  // Deletes the compacted rows below `end`, inside the caller's transaction.
  absl::Status PurgeCompactedRows(uint64_t end);

  static constexpr size_t kTailEntries = 16384;
  static constexpr size_t kTailBytes = 64 << 20;
  // The cached entry at `index`, or nullptr.
  const raft::LogEntry* TailLocked(uint64_t index) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TrimTailLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Writer connection: only the writer thread touches it.
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // the checkpointing thread
  // Rows below this index are gone from raft.db. Writer thread only.
  uint64_t purged_below_ = 1;

  const std::string snapshot_dir_;
  mutable absl::Mutex read_mu_;
  std::unique_ptr<Connection> reader_ ABSL_GUARDED_BY(read_mu_);

  mutable absl::Mutex mu_;
  uint64_t first_index_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t last_index_ ABSL_GUARDED_BY(mu_) = 0;
  raft::HardState hard_state_ ABSL_GUARDED_BY(mu_);
  raft::SnapshotMeta snapshot_meta_ ABSL_GUARDED_BY(mu_);
  raft::ConfState conf_state_ ABSL_GUARDED_BY(mu_);
  // The newest entries: tail_[i] has index tail_first_ + i, and the tail
  // always ends at last_index_ (or is empty).
  std::deque<raft::LogEntry> tail_ ABSL_GUARDED_BY(mu_);
  uint64_t tail_first_ ABSL_GUARDED_BY(mu_) = 1;
  size_t tail_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Cache of the latest snapshot's data, filled on first load.
  mutable std::shared_ptr<const std::string> snapshot_data_ ABSL_GUARDED_BY(mu_);
  mutable std::atomic<bool> image_wanted_{false};
};

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_RAFT_LOG_H_
