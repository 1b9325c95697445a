#include "storage/sqlite.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace concordance::storage {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", sqlite3_errstr(rc));
  if (db != nullptr && sqlite3_errcode(db) == rc) {
    absl::StrAppend(&msg, " (", sqlite3_errmsg(db), ")");
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    default:
      return absl::InternalError(msg);
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

// Binds chain, so a failure (SQLITE_TOOBIG, SQLITE_RANGE) is kept and
// reported by the next Step().
void Statement::NoteBind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Statement& Statement::Bind(int i, int64_t v) {
  NoteBind(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}

Statement& Statement::Bind(int i, absl::string_view text) {
  NoteBind(sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8));
  return *this;
}

Statement& Statement::BindBlob(int i, absl::string_view bytes) {
  // A zero-length blob must still bind as a blob, not NULL.
  static const char kEmpty = 0;
  NoteBind(sqlite3_bind_blob64(stmt_, i, bytes.empty() ? &kEmpty : bytes.data(),
                               bytes.size(), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::BindNull(int i) {
  NoteBind(sqlite3_bind_null(stmt_, i));
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return SqliteError(db_, bind_rc_, absl::StrCat("bind for ", sqlite3_sql(stmt_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, sqlite3_sql(stmt_));
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

std::string Statement::Text(int col) const { return std::string(View(col)); }

absl::string_view Statement::View(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(p), n);
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& path, int extra_flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
          extra_flags,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(db, rc, absl::StrCat("open ", path));
    sqlite3_close(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  // A larger lookaside (per-connection small-allocation pool) than the
  // default 100 x 1,200 bytes: fewer trips to malloc per statement.
  sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, nullptr, 256, 2000);
  // Readers and the writer of a WAL database may briefly contend during a
  // checkpoint; wait rather than fail, for up to 5 s: every 100 µs for the
  // first 100 ms (SQLite's default handler sleeps 1, 2, 5 ... 100 ms, so a
  // writer held off for a 30 ms checkpoint could sleep on for 50 ms more),
  // then every millisecond.
  sqlite3_busy_handler(
      db,
      [](void*, int attempts) -> int {
        constexpr int kFine = 1000;  // 100 ms of 100 µs
        if (attempts < kFine) {
          usleep(100);
          return 1;
        }
        if (attempts - kFine >= 4900) return 0;  // 4.9 s of 1 ms
        usleep(1000);
        return 1;
      },
      nullptr);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  cache_.clear();  // finalize statements before closing
  sqlite3_close(db_);
}

absl::Status Connection::Exec(absl::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status st = SqliteError(db_, rc, err ? err : s);
    sqlite3_free(err);
    return st;
  }
  return absl::OkStatus();
}

absl::Status Connection::Run(absl::string_view sql) {
  absl::StatusOr<Statement*> st = Prepare(sql);
  if (!st.ok()) return st.status();
  absl::Status s = (*st)->Run();
  (*st)->Reset();
  return s;
}

absl::StatusOr<Statement*> Connection::Prepare(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), sql.size(),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
  auto owned = std::make_unique<Statement>(db_, stmt);
  Statement* raw = owned.get();
  cache_.emplace(std::string(sql), std::move(owned));
  return raw;
}

absl::StatusOr<int64_t> Connection::QueryInt(absl::string_view sql,
                                             int64_t fallback) {
  absl::StatusOr<Statement*> st = Prepare(sql);
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  int64_t v = *row ? (*st)->Int(0) : fallback;
  (*st)->Reset();
  return v;
}

Transaction::~Transaction() {
  if (open_) conn_->Exec("ROLLBACK").IgnoreError();
}

absl::Status Transaction::Begin(absl::string_view sql) {
  absl::Status s = conn_->Run(sql);
  open_ = s.ok();
  return s;
}

absl::Status Transaction::Commit() {
  absl::Status s = conn_->Run("COMMIT");
  if (s.ok()) open_ = false;
  return s;
}

absl::StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Open(const std::string& path,
                                                                        Connection* writer,
                                                                        int min_frames) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(path));
  // The connection must have read the file and seen WAL mode (this pragma
  // makes it): on one that has not, sqlite3_wal_checkpoint_v2 returns OK,
  // reports -1 frames and copies nothing — and the WAL grows forever.
  ASSIGN_OR_RETURN(Statement * mode, conn->Prepare("PRAGMA journal_mode=WAL"));
  ASSIGN_OR_RETURN(bool row, mode->Step());
  if (!row || mode->View(0) != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not in WAL mode"));
  }
  mode->Reset();
  RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=FULL"));
  // A RESTART checkpoint must find a moment with no writer, and then
  // holds off writers while it waits for readers: try every 100 µs (the
  // default handler's sleeps of 1, 2, 5 ... ms kept missing the gaps
  // between raft.db's back-to-back group commits), and give up after
  // kRestartWaitMs (the next run tries again).
  sqlite3_busy_handler(
      conn->raw(),
      [](void*, int attempts) -> int {
        if (attempts * 100 >= kRestartWaitMs * 1000) return 0;
        usleep(100);
        return 1;
      },
      nullptr);
  RETURN_IF_ERROR(
      writer->Exec(absl::StrCat("PRAGMA journal_size_limit=", kJournalSizeLimit)));
  std::unique_ptr<WalCheckpointer> c(new WalCheckpointer(std::move(conn), writer, min_frames));
  // Replaces SQLite's autocheckpoint hook: commits never checkpoint.
  sqlite3_wal_hook(writer->raw(), &WalCheckpointer::OnCommit, c.get());
  return c;
}

WalCheckpointer::~WalCheckpointer() { sqlite3_wal_hook(writer_->raw(), nullptr, nullptr); }

int WalCheckpointer::OnCommit(void* self, sqlite3*, const char*, int frames) {
  static_cast<WalCheckpointer*>(self)->wal_frames_.store(frames);
  return SQLITE_OK;
}

absl::Status WalCheckpointer::Run() {
  int frames = wal_frames_.load();
  if (frames < min_frames_) return absl::OkStatus();
  // First copy what can be copied without holding anyone up.
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(conn_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) return SqliteError(conn_->raw(), rc, "checkpoint");
  if (frames < kRestartFrames) {
    // All copied: the next commit may restart the WAL (its hook reports).
    if (rc == SQLITE_OK && log >= 0 && done == log) wal_frames_.store(0);
    return absl::OkStatus();
  }
  // Under load a commit is nearly always in progress: one that began
  // before the passive checkpoint ended appends after it, and the WAL
  // never restarts even when every frame was copied. Copy what is left
  // while holding writers off, so the next commit starts at the WAL's
  // beginning.
  rc = sqlite3_wal_checkpoint_v2(conn_->raw(), "main", SQLITE_CHECKPOINT_RESTART, &log, &done);
  if (rc == SQLITE_OK) {
    wal_frames_.store(0);
  } else if (rc != SQLITE_BUSY) {
    return SqliteError(conn_->raw(), rc, "checkpoint");
  }
  return absl::OkStatus();
}

}  // namespace concordance::storage
