// Log: the Raft core's view of its log — the durable entries in a LogStore
// plus the entries (and an incoming snapshot) not yet persisted — with the
// commit and apply positions.
//
// Index space, low to high:
//   [storage first .. storage last]  durable entries, read through LogStore
//   [unstable_offset .. last_index]  appended, waiting for the driver to
//                                    persist them (they override storage
//                                    entries at the same indexes)
// `committed` is the highest index known committed; `applied` the highest
// handed to the state machine and acknowledged by Advance. Committed entries
// are handed out only once they are durable here (index < unstable_offset),
// so the state machine never runs ahead of this node's log.
//
// Single-threaded: owned by raft::Node, used on the driver's thread.
#ifndef CONCORDANCE_RAFT_LOG_H_
#define CONCORDANCE_RAFT_LOG_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/raft.pb.h"
#include "storage/log_store.h"

namespace concordance::raft {

class Log {
 public:
  explicit Log(const storage::LogStore* store);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term at `index`; OutOfRange when compacted or beyond the last index.
  absl::StatusOr<uint64_t> Term(uint64_t index) const;
  // Term at `index`, or 0 when unknown (compacted or absent).
  uint64_t TermOrZero(uint64_t index) const;
  bool MatchTerm(uint64_t index, uint64_t term) const;
  // §5.4.1: is (last_index, last_term) at least as up to date as this log?
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // Entries in [lo, hi), up to max_bytes (at least one). OutOfRange if lo is
  // compacted.
  absl::StatusOr<std::vector<LogEntry>> Entries(uint64_t lo, uint64_t hi,
                                                uint64_t max_bytes) const;

  // Appends entries after truncating any suffix from entries[0].index. The
  // caller guarantees entries[0].index > committed.
  void Append(const std::vector<LogEntry>& entries);
  void Append(LogEntry entry);

  // Follower side of AppendEntries: if the log matches (prev_index,
  // prev_term), appends the entries not already present and returns the
  // index of the last new entry; nullopt on mismatch. Never truncates an
  // entry that matches, so stale or duplicated messages are harmless.
  std::optional<uint64_t> MaybeAppend(uint64_t prev_index, uint64_t prev_term,
                                      const std::vector<LogEntry>& entries);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  void CommitTo(uint64_t index);  // never moves backwards
  void set_committed(uint64_t index) { committed_ = index; }
  void set_applied(uint64_t index) { applied_ = index; }

  // ---- Persistence bookkeeping (Ready/Advance) ----
  // Unstable entries not yet handed to the driver.
  std::vector<LogEntry> TakeUnstableForPersist();
  // The driver persisted entries up to (index, term): drop them from memory
  // if they are still the ones there (a truncation may have replaced them).
  void StableTo(uint64_t index, uint64_t term);
  // The last index known durable in storage.
  uint64_t StableIndex() const;
  bool HasUnpersisted() const;

  // Committed entries, durable here, after `after`, up to max_bytes.
  std::vector<LogEntry> CommittedEntriesAfter(uint64_t after,
                                              uint64_t max_bytes) const;
  bool HasCommittedAfter(uint64_t after) const;

  // ---- Snapshots ----
  // Replaces the whole log with an incoming snapshot (follower install);
  // the snapshot stays pending until SnapshotPersisted().
  void RestoreSnapshot(const SnapshotMeta& meta);
  const std::optional<SnapshotMeta>& pending_snapshot() const {
    return pending_snapshot_;
  }
  void SnapshotPersisted(uint64_t index);

 private:
  const storage::LogStore* store_;
  std::vector<LogEntry> unstable_;
  uint64_t unstable_offset_;
  // unstable_ entries with index <= this have been handed out for persist.
  uint64_t in_progress_ = 0;
  std::optional<SnapshotMeta> pending_snapshot_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace concordance::raft

#endif  // CONCORDANCE_RAFT_LOG_H_
