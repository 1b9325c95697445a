// Thin RAII wrappers over the SQLite C API: a connection that caches its
// prepared statements, and a statement with typed binds and columns.
//
// Thread safety: a Connection and its statements belong to one thread at a
// time; callers that share one across threads hold their own lock.
#ifndef CONCORDANCE_STORAGE_SQLITE_H_
#define CONCORDANCE_STORAGE_SQLITE_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace concordance::storage {

// Converts an SQLite result code into a Status with the connection's message.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds are 1-based as in SQLite. Text and blob binds copy the bytes.
  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, absl::string_view text);
  Statement& BindBlob(int i, absl::string_view bytes);
  Statement& BindNull(int i);

  // Steps once: true when a row is ready, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, expecting no rows.
  absl::Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  std::string Text(int col) const;
  absl::string_view View(int col) const;  // valid until the next Step/Reset

  // Clears binds and rewinds; called automatically by Connection::Prepare.
  void Reset();

 private:
  void NoteBind(int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;  // the first failed bind since Reset()
};

class Connection {
 public:
  // Opens (creating if needed) the database file at `path` with `flags`
  // added to SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, int extra_flags = 0);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements that return no rows.
  absl::Status Exec(absl::string_view sql);
  // Runs one statement that takes no parameters and returns no rows (BEGIN,
  // COMMIT, SAVEPOINT x, RELEASE x) from the statement cache: no parsing
  // per call, as sqlite3_exec would.
  absl::Status Run(absl::string_view sql);
  // Returns a cached prepared statement, reset and with binds cleared.
  absl::StatusOr<Statement*> Prepare(absl::string_view sql);
  // Runs a query returning one integer (e.g. "PRAGMA ..."); `fallback` when
  // there is no row.
  absl::StatusOr<int64_t> QueryInt(absl::string_view sql, int64_t fallback = 0);

  sqlite3* raw() const { return db_; }
  int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

// PASSIVE checkpoints of a WAL-mode database on a connection of their own:
// committed WAL frames are copied into the database file without blocking
// the writer or readers, so commits never checkpoint themselves. The
// connection runs with synchronous=FULL: each checkpoint fsyncs the WAL
// before copying and the database file after.
//
// A checkpoint costs two fsyncs, so Run() does one only once the writer's
// commits have put at least `min_frames` frames in the WAL (SQLite's own
// autocheckpoint default is 1,000); it learns that from a WAL hook on the
// writer connection, which must outlive this object.
//
// SQLite restarts a WAL (writes again from its beginning) only when a
// commit begins after every frame was copied. Under load a commit is
// nearly always in progress: one that began before a passive checkpoint
// ended appends after it, so the WAL never restarts, however often the
// checkpoints complete, and grows for as long as the writes go on
// (measured: state.db-wal 310 MB after 8 s of single-key writes on one
// node; 1.5 GB after a 1,000,000-key load), and every read and checkpoint
// pays for its size. So once the WAL holds kRestartFrames, the passive
// checkpoint is followed by a RESTART one: it holds writers off (for at
// most kRestartWaitMs while readers finish, then while it copies what the
// passive one left and fsyncs), so that the next commit starts at the
// WAL's beginning. The file is reused, not truncated (no block freed and
// allocated again under raft.db's fsyncs); a WAL that restarts is cut back
// to kJournalSizeLimit (the writer's journal_size_limit, set by Open).
class WalCheckpointer {
 public:
  static constexpr int kDefaultMinFrames = 1000;  // ~4 MiB of 4 KiB pages
  static constexpr int kRestartFrames = 8192;    // ~32 MiB of 4 KiB pages
  static constexpr int kRestartWaitMs = 100;
  static constexpr int64_t kJournalSizeLimit = 64 << 20;
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Open(const std::string& path,
                                                               Connection* writer,
                                                               int min_frames);
  ~WalCheckpointer();  // removes the hook from the writer
  // One checkpoint if the WAL is big enough. Busy is not an error (the next
  // run catches up).
  absl::Status Run();

 private:
  WalCheckpointer(std::unique_ptr<Connection> conn, Connection* writer, int min_frames)
      : conn_(std::move(conn)), writer_(writer), min_frames_(min_frames) {}
  static int OnCommit(void* self, sqlite3* db, const char* name, int frames);
  std::unique_ptr<Connection> conn_;
  Connection* writer_;
  const int min_frames_;
  std::atomic<int> wal_frames_{0};  // as of the writer's last commit
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless Commit()
// succeeded. Keeps every early return from leaving a transaction open.
class Transaction {
 public:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  ~Transaction();
  absl::Status Begin() { return Begin("BEGIN IMMEDIATE"); }
  absl::Status BeginDeferred() { return Begin("BEGIN"); }
  absl::Status Commit();

 private:
  absl::Status Begin(absl::string_view sql);
  Connection* conn_;
  bool open_ = false;
};

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_SQLITE_H_
