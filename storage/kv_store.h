// KvStore: the replicated state on SQLite, one file `state.db` per node.
//
// On-disk schema (exactly seed 004, plus `meta`):
//   kv(namespace, key, value, version, updated_by, updated_at, expires_at)
//       PRIMARY KEY (namespace, key); value is serialized JSON text.
//   changelog(seq INTEGER PRIMARY KEY AUTOINCREMENT, namespace, key,
//             op IN ('set','delete','expire'), value, version, actor,
//             timestamp, tenant_id)
//   indexes: kv(namespace); kv(expires_at) WHERE expires_at IS NOT NULL;
//            changelog(tenant_id, seq)
//   meta(key TEXT PRIMARY KEY, value TEXT): applied_index, applied_term,
//       written in the same transaction as the commands they cover.
//
// Durability: journal_mode=WAL, synchronous=NORMAL. A power failure may lose
// the last transactions, never tear one; the Raft log (raft.db, FULL) replays
// whatever applied_index says is missing.
//
// Determinism: everything written comes from the command (timestamp, actor,
// expiry); Apply never reads a clock, so replicas fed the same log hold the
// same bytes and the same ContentHash().
//
// Threads: Apply/Serialize/Restore/TrimChangelog run on one applier thread
// (the writer connection). Reads run on any thread, each on a pooled reader
// connection, and see only committed transactions.
#ifndef CONCORDANCE_STORAGE_KV_STORE_H_
#define CONCORDANCE_STORAGE_KV_STORE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/sqlite.h"
#include "storage/state_machine.h"

namespace concordance::storage {

struct ListResult {
  std::vector<v1::Entry> entries;
  std::optional<std::string> next;  // key to pass as `after` for more
};

struct ChangesResult {
  std::vector<v1::ChangeEvent> changes;
  int64_t next_seq = 0;    // pass as `since` to continue
  int64_t oldest_seq = 0;  // oldest seq still in the changelog
  int64_t last_seq = 0;    // newest seq written so far
  bool more = false;       // the page was cut short (by limit or bytes)
};

// A page of a list or changes read stops once the rows it holds reach this
// many bytes of namespaces, keys and values (always at least one row).
inline constexpr size_t kNoByteLimit = ~size_t{0};

// Which changes to read: one tenant's or one namespace's.
struct ChangeFilter {
  std::string tenant_id;
  std::string namespace_;  // empty: all of the tenant's namespaces
};

class KvStore : public StateMachine {
 public:
  struct Options {
    int reader_connections = 4;
  };
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const std::string& path,
                                                       Options options);
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const std::string& path) {
    return Open(path, Options());
  }

  ~KvStore() override;

  // ---- StateMachine (applier thread) ----
  absl::Status Apply(absl::Span<const raft::LogEntry> entries,
                     std::vector<CommandResult>* results) override;
  uint64_t AppliedIndex() const override { return applied_index_.load(); }
  uint64_t AppliedTerm() const override { return applied_term_.load(); }
  absl::StatusOr<std::string> Serialize() override;
  absl::Status Restore(const std::string& image) override;
  // Checks, without touching any file, that `image` is a whole state.db of
  // applied index `index` and term `term`: it opens as SQLite, has the
  // schema, passes PRAGMA quick_check and its meta matches. Any thread.
  static absl::Status ValidateImage(const std::string& image, uint64_t index, uint64_t term);
  // Hashes the content as of one read transaction (any thread); with
  // `applied_index` set to the applied index of that same state.
  absl::StatusOr<std::string> ContentHash() override { return ContentHash(nullptr); }
  absl::StatusOr<std::string> ContentHash(uint64_t* applied_index) const;

  // Copies committed WAL frames into state.db without blocking the applier
  // (PASSIVE, on a connection of its own). Applies never checkpoint
  // themselves: a background thread must call this regularly.
  absl::Status CheckpointWal();

  // Makes every committed transaction durable: fsyncs the WAL, the database
  // file and their directory. Commits themselves are not fsynced
  // (synchronous=NORMAL); the node driver calls this before raft.db drops
  // the log entries those commits came from. Any one thread that does not
  // also run CheckpointWal concurrently.
  absl::Status SyncToDisk() const;

  // A consistent, frozen view of the state: a read transaction pinned on a
  // reader connection. Taking one is cheap (the applier thread may take it
  // right after an apply); serializing it may then run on any thread while
  // the applier goes on.
  class Pinned {
   public:
    ~Pinned();
    uint64_t applied_index() const { return applied_index_; }
    // The whole database as of the pin (like Serialize()).
    absl::StatusOr<std::string> Serialize();

   private:
    friend class KvStore;
    Pinned(const KvStore* store, Connection* conn) : store_(store), conn_(conn) {}
    const KvStore* store_;
    Connection* conn_;
    uint64_t applied_index_ = 0;
  };
  absl::StatusOr<std::unique_ptr<Pinned>> Pin() const;

  // ---- Reads (any thread) ----
  // The live entry, or NotFound when absent or expired at `now_ms`.
  absl::StatusOr<v1::Entry> Get(const std::string& ns, const std::string& key,
                                  int64_t now_ms) const;
  // Live entries of `ns` with keys starting with `prefix` and greater than
  // `after`, in key order, at most `limit` rows and (past the first row)
  // about `max_bytes` of namespace, key and value bytes; `next` is set when
  // more may follow.
  absl::StatusOr<ListResult> List(const std::string& ns,
                                  const std::string& prefix,
                                  const std::string& after, int limit,
                                  int64_t now_ms,
                                  size_t max_bytes = kNoByteLimit) const;
  // Changelog rows with seq > `since` matching `filter`, at most `limit`
  // rows and about `max_bytes` (as List). OutOfRange (payload
  // kOldestSeqPayload) when rows after `since` have been trimmed.
  absl::StatusOr<ChangesResult> ChangesSince(int64_t since,
                                             const ChangeFilter& filter,
                                             int limit,
                                             size_t max_bytes = kNoByteLimit) const;
  // Entries whose expires_at <= now_ms, earliest first, as expire ops
  // carrying the version seen.
  absl::StatusOr<std::vector<kv::ExpireOp>> DueExpirations(int64_t now_ms,
                                                           int limit) const;
  // The earliest expires_at of any entry, or nullopt.
  absl::StatusOr<std::optional<int64_t>> NextExpiry() const;
  // Newest seq written (0 when none) and oldest seq kept (last+1 if empty).
  absl::StatusOr<int64_t> LastSeq() const;
  absl::StatusOr<int64_t> OldestSeq() const;
  absl::StatusOr<int64_t> ChangelogSize() const;

 private:
  class ReaderPool;
  KvStore(std::unique_ptr<Connection> writer, std::unique_ptr<ReaderPool> readers);
  absl::Status LoadApplied();
  absl::Status ApplyInTransaction(absl::Span<const raft::LogEntry> entries,
                                  std::vector<CommandResult>* results);
  absl::Status ApplyCommand(const kv::Command& cmd, CommandResult* result);
  absl::Status ApplySet(const kv::Command& cmd, const kv::SetOp& op,
                        CommandResult* result);
  absl::Status ApplyDelete(const kv::Command& cmd, const kv::DeleteOp& op,
                           CommandResult* result);
  absl::Status ApplyExpire(const kv::Command& cmd, const kv::ExpireOp& op,
                           CommandResult* result);
  absl::Status ApplyTrim(const kv::TrimChangelog& op);
  // The current version of (ns, key) as of `now_ms`; an expired row is
  // removed first, recording its expire event in *result. nullopt when
  // absent.
  absl::StatusOr<std::optional<int64_t>> CurrentVersion(
      const std::string& ns, const std::string& key, int64_t now_ms,
      CommandResult* result);
  absl::StatusOr<int64_t> AppendChange(v1::ChangeEvent* event);

  std::unique_ptr<Connection> writer_;  // applier thread only
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::unique_ptr<ReaderPool> readers_;
  std::string path_;
  std::atomic<uint64_t> applied_index_{0};
  std::atomic<uint64_t> applied_term_{0};
};

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_KV_STORE_H_
