// LogStore: the durable half of a Raft node — its log, hard state and latest
// snapshot. The Raft core (raft/) reads it; the node driver writes it while
// carrying out the core's Ready (see raft/node.h for the persistence
// contract). Two implementations: RaftLog (SQLite, raft.db) and
// MemoryLogStore (tests and the simulator).
//
// Index space: entries live at [FirstIndex(), LastIndex()]. Everything at or
// below snapshot_meta().index has been compacted into the snapshot, so
// FirstIndex() == snapshot_meta().index + 1, and Term() also answers for
// snapshot_meta().index itself. An empty store has FirstIndex() == 1 and
// LastIndex() == 0.
//
// Durability: every write method returns only once its effect is durable
// (fsynced) and is atomic: after a crash either all of it or none of it is
// visible.
//
// Thread safety: implementations allow one writer thread and concurrent
// readers on other threads. A reader never sees a torn write.
#ifndef CONCORDANCE_STORAGE_LOG_STORE_H_
#define CONCORDANCE_STORAGE_LOG_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/raft.pb.h"

namespace concordance::storage {

// A snapshot: its metadata and the serialized state-machine image.
struct Snapshot {
  raft::SnapshotMeta meta;
  std::shared_ptr<const std::string> data;  // never null once loaded
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  // ---- Reads ----
  virtual uint64_t FirstIndex() const = 0;
  virtual uint64_t LastIndex() const = 0;
  // Term of the entry at `index`, for index in [FirstIndex()-1, LastIndex()].
  // OutOfRange below (compacted) or above that range.
  virtual absl::StatusOr<uint64_t> Term(uint64_t index) const = 0;
  // Appends to *out the entries in [lo, hi), stopping early once their total
  // data size exceeds max_bytes (but always at least one entry). OutOfRange
  // if lo < FirstIndex() or hi > LastIndex() + 1.
  virtual absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                               std::vector<raft::LogEntry>* out) const = 0;
  // The latest CONFIG entry at or below `max_index` that is still in the log,
  // or NotFound.
  virtual absl::StatusOr<raft::LogEntry> LastConfigEntry(
      uint64_t max_index) const = 0;
  virtual raft::HardState hard_state() const = 0;
  virtual raft::SnapshotMeta snapshot_meta() const = 0;
  // The latest snapshot with its data (index 0 and empty data when none).
  // Unavailable when the store compacted its log without an image and none
  // has been made yet (RaftLog); the caller tries again later.
  virtual absl::StatusOr<Snapshot> LoadSnapshot() const = 0;
  // The configuration recorded by the last Save() that carried one.
  virtual raft::ConfState conf_state() const = 0;

  // ---- Writes (one writer thread) ----
  // In one atomic, durable write: if `entries` is non-empty, removes every
  // entry at index >= entries.front().index and appends `entries` (which must
  // be contiguous and start at most at LastIndex() + 1); then records
  // `hard_state` and `conf_state` when given.
  virtual absl::Status Save(const raft::HardState* hard_state,
                            absl::Span<const raft::LogEntry> entries,
                            const raft::ConfState* conf_state) = 0;
  // Records `snapshot` (taken by this node's state machine at meta.index,
  // which must be in the log, at or after the current snapshot) and removes
  // the entries it covers, atomically: the snapshot is durable before any
  // entry disappears.
  virtual absl::Status SaveSnapshot(const Snapshot& snapshot) = 0;
  // Installs a snapshot received from the leader: records it and discards
  // the whole log (the Raft core installs a snapshot only when its log does
  // not already match it). Atomic and durable.
  virtual absl::Status InstallSnapshot(const Snapshot& snapshot) = 0;

  // ---- Snapshots in two halves (how the node driver takes them) ----
  // SaveSnapshot split so that the slow half can run off the writer thread:
  // WriteSnapshotImage makes an image durable (any thread; nothing is
  // recorded), then CommitSnapshot (writer thread) records it and compacts
  // the log. A commit of a snapshot older than the current one is a no-op.
  // A `meta` with size 0 records a compaction point without an image: the
  // caller has made its state machine durable at or past meta.index, so
  // nothing is lost, but LoadSnapshot() then has no image to give until one
  // is made — it answers Unavailable and ImageWanted() turns true.
  virtual absl::Status WriteSnapshotImage(const Snapshot& snapshot) const = 0;
  virtual absl::Status CommitSnapshot(const raft::SnapshotMeta& meta) = 0;
  // True once LoadSnapshot() was asked for an image that does not exist,
  // until a snapshot with an image is committed or installed.
  virtual bool ImageWanted() const = 0;
  static bool HasImage(const raft::SnapshotMeta& m) { return m.size() > 0; }
};

// The checksum of snapshot data: the first 64 bits of its SHA-256
// (hardware-accelerated where the CPU has SHA extensions).
uint64_t SnapshotChecksum(const std::string& data);

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_LOG_STORE_H_
