#include "storage/kv_store.h"

#include <openssl/evp.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/durable_file.h"
#include "storage/validation.h"
#include "util/status_macros.h"

namespace concordance::storage {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS kv (
    namespace   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    updated_by  TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    PRIMARY KEY (namespace, key)
);
CREATE TABLE IF NOT EXISTS changelog (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    op          TEXT    NOT NULL CHECK(op IN ('set', 'delete', 'expire')),
    value       TEXT,
    version     INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    timestamp   INTEGER NOT NULL,
    tenant_id   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_kv_namespace ON kv(namespace);
CREATE INDEX IF NOT EXISTS idx_kv_expires ON kv(expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_changelog_tenant ON changelog(tenant_id, seq);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
)sql";

constexpr char kKvColumns[] =
    "namespace, key, value, version, updated_by, updated_at, expires_at";
constexpr char kChangeColumns[] =
    "seq, op, namespace, key, value, version, actor, timestamp, tenant_id";

v1::Entry ReadEntry(const Statement& st) {
  v1::Entry e;
  e.set_namespace_(st.Text(0));
  e.set_key(st.Text(1));
  e.set_value(st.Text(2));
  e.set_version(st.Int(3));
  e.set_updated_by(st.Text(4));
  e.set_updated_at(st.Int(5));
  e.set_expires_at(st.IsNull(6) ? 0 : st.Int(6));
  return e;
}

v1::ChangeEvent ReadChange(const Statement& st) {
  v1::ChangeEvent c;
  c.set_seq(st.Int(0));
  c.set_op(st.Text(1));
  c.set_namespace_(st.Text(2));
  c.set_key(st.Text(3));
  if (!st.IsNull(4)) c.set_value(st.Text(4));
  c.set_version(st.Int(5));
  c.set_actor(st.Text(6));
  c.set_timestamp(st.Int(7));
  c.set_tenant_id(st.Text(8));
  return c;
}

// The smallest string greater than every string starting with `prefix`, or
// "" when there is none (prefix empty or all 0xff).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = prefix.back();
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

absl::Status VersionConflict(int64_t current) {
  absl::Status s = absl::AbortedError(
      absl::StrCat("version conflict: the current version is ", current));
  s.SetPayload(kCurrentVersionPayload, absl::Cord(absl::StrCat(current)));
  return s;
}

// `s` with its message prefixed by the failing batch op and kOpIndexPayload.
absl::Status WithOpIndex(const absl::Status& s, int op_index) {
  absl::Status out(s.code(), absl::StrCat("batch op ", op_index, ": ", s.message()));
  s.ForEachPayload([&out](absl::string_view k, const absl::Cord& v) {
    out.SetPayload(k, v);
  });
  out.SetPayload(kOpIndexPayload, absl::Cord(absl::StrCat(op_index)));
  return out;
}

}  // namespace

// A fixed set of read-only connections handed out one caller at a time.
class KvStore::ReaderPool {
 public:
  static absl::StatusOr<std::unique_ptr<ReaderPool>> Open(const std::string& path,
                                                          int n) {
    auto pool = std::make_unique<ReaderPool>();
    for (int i = 0; i < std::max(1, n); ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(path));
      RETURN_IF_ERROR(c->Exec("PRAGMA query_only=1"));
      RETURN_IF_ERROR(c->Exec("PRAGMA cache_size=-16384"));
      pool->free_.push_back(c.get());
      pool->all_.push_back(std::move(c));
    }
    return pool;
  }

  class Lease {
   public:
    Lease(ReaderPool* pool, Connection* c) : pool_(pool), c_(c) {}
    ~Lease() { pool_->Release(c_); }
    Connection* operator->() const { return c_; }
    Connection* get() const { return c_; }

   private:
    ReaderPool* pool_;
    Connection* c_;
  };

  Connection* AcquireRaw() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](std::vector<Connection*>* f) { return !f->empty(); }, &free_));
    Connection* c = free_.back();
    free_.pop_back();
    return c;
  }
  void ReleaseRaw(Connection* c) { Release(c); }

  Lease Acquire() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](std::vector<Connection*>* f) { return !f->empty(); }, &free_));
    Connection* c = free_.back();
    free_.pop_back();
    return Lease(this, c);
  }

 private:
  void Release(Connection* c) {
    absl::MutexLock l(&mu_);
    free_.push_back(c);
  }

  absl::Mutex mu_;
  std::vector<Connection*> free_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Connection>> all_;
};

KvStore::KvStore(std::unique_ptr<Connection> writer,
                 std::unique_ptr<ReaderPool> readers)
    : writer_(std::move(writer)), readers_(std::move(readers)) {}

KvStore::~KvStore() = default;

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const std::string& path,
                                                       Options options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer, Connection::Open(path));
  RETURN_IF_ERROR(writer->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous=NORMAL"));
  // A page cache that holds the working set (the 2 MiB default made the
  // apply path re-read pages with pread).
  RETURN_IF_ERROR(writer->Exec("PRAGMA cache_size=-65536"));
  RETURN_IF_ERROR(writer->Exec("PRAGMA wal_autocheckpoint=0"));
  RETURN_IF_ERROR(writer->Exec(kSchema));
  ASSIGN_OR_RETURN(std::unique_ptr<ReaderPool> readers,
                   ReaderPool::Open(path, options.reader_connections));
  ASSIGN_OR_RETURN(std::unique_ptr<WalCheckpointer> checkpointer,
                   WalCheckpointer::Open(path, writer.get(), WalCheckpointer::kDefaultMinFrames));
  std::unique_ptr<KvStore> store(new KvStore(std::move(writer), std::move(readers)));
  store->checkpointer_ = std::move(checkpointer);
  store->path_ = path;
  RETURN_IF_ERROR(store->LoadApplied());
  return store;
}

absl::Status KvStore::LoadApplied() {
  ASSIGN_OR_RETURN(int64_t index,
                   writer_->QueryInt("SELECT CAST(value AS INTEGER) FROM meta "
                                     "WHERE key = 'applied_index'"));
  ASSIGN_OR_RETURN(int64_t term,
                   writer_->QueryInt("SELECT CAST(value AS INTEGER) FROM meta "
                                     "WHERE key = 'applied_term'"));
  applied_index_ = index;
  applied_term_ = term;
  return absl::OkStatus();
}

absl::Status KvStore::Apply(absl::Span<const raft::LogEntry> entries,
                            std::vector<CommandResult>* results) {
  size_t first_result = results->size();
  absl::Status s = ApplyInTransaction(entries, results);
  // On failure nothing was applied (the transaction rolled back): report no
  // results either.
  if (!s.ok()) results->resize(first_result);
  return s;
}

absl::Status KvStore::ApplyInTransaction(absl::Span<const raft::LogEntry> entries,
                                         std::vector<CommandResult>* results) {
  uint64_t applied = applied_index_.load();
  const raft::LogEntry* last = nullptr;
  Transaction tx(writer_.get());
  RETURN_IF_ERROR(tx.Begin());
  for (const raft::LogEntry& e : entries) {
    if (e.index() <= applied) continue;
    uint64_t expected = last != nullptr ? last->index() + 1 : applied + 1;
    if (e.index() != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entries to apply are not contiguous: expected index ", expected, ", got ",
          e.index()));
    }
    last = &e;
    if (e.type() != raft::COMMAND) continue;
    CommandResult& r = results->emplace_back();
    r.index = e.index();
    kv::Command cmd;
    if (!cmd.ParseFromString(e.data())) {
      r.status = absl::InvalidArgumentError("undecodable command");
      continue;
    }
    RETURN_IF_ERROR(writer_->Run("SAVEPOINT command"));
    RETURN_IF_ERROR(ApplyCommand(cmd, &r));  // SQLite failure: all rolls back
    if (!r.status.ok()) {
      RETURN_IF_ERROR(writer_->Run("ROLLBACK TO command"));
      r.changes.clear();
    }
    RETURN_IF_ERROR(writer_->Run("RELEASE command"));
  }
  if (last == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement * st,
                   writer_->Prepare("INSERT INTO meta(key, value) VALUES "
                                    "('applied_index', ?1), ('applied_term', ?2) "
                                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  st->Bind(1, absl::StrCat(last->index())).Bind(2, absl::StrCat(last->term()));
  RETURN_IF_ERROR(st->Run());
  RETURN_IF_ERROR(tx.Commit());
  applied_index_ = last->index();
  applied_term_ = last->term();
  return absl::OkStatus();
}

absl::Status KvStore::ApplyCommand(const kv::Command& cmd, CommandResult* r) {
  switch (cmd.op_case()) {
    case kv::Command::kSet:
      return ApplySet(cmd, cmd.set(), r);
    case kv::Command::kDelete:
      return ApplyDelete(cmd, cmd.delete_(), r);
    case kv::Command::kBatch: {
      for (int i = 0; i < cmd.batch().ops_size(); ++i) {
        const kv::BatchOp& op = cmd.batch().ops(i);
        absl::Status s = op.has_set() ? ApplySet(cmd, op.set(), r)
                                      : ApplyDelete(cmd, op.delete_(), r);
        if (!s.ok()) return s;
        if (!r->status.ok()) {
          r->status = WithOpIndex(r->status, i);
          return absl::OkStatus();
        }
      }
      return absl::OkStatus();
    }
    case kv::Command::kExpire:
      for (const kv::ExpireOp& op : cmd.expire().ops()) {
        RETURN_IF_ERROR(ApplyExpire(cmd, op, r));
      }
      return absl::OkStatus();
    case kv::Command::kTrimChangelog:
      return ApplyTrim(cmd.trim_changelog());
    case kv::Command::OP_NOT_SET:
      break;
  }
  r->status = absl::InvalidArgumentError("command has no operation");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> KvStore::CurrentVersion(
    const std::string& ns, const std::string& key, int64_t now_ms,
    CommandResult* r) {
  // Only what a write needs: not the stored value.
  ASSIGN_OR_RETURN(Statement * st,
                   writer_->Prepare("SELECT version, expires_at FROM kv "
                                    "WHERE namespace = ? AND key = ?"));
  st->Bind(1, ns).Bind(2, key);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<int64_t>();
  int64_t version = st->Int(0);
  int64_t expires_at = st->IsNull(1) ? 0 : st->Int(1);
  st->Reset();
  if (expires_at == 0 || expires_at > now_ms) return version;
  // Due but not yet expired by the leader's expirer: expire it now, so it
  // gets exactly one expire event and the later expire op finds nothing.
  kv::ExpireOp op;
  op.set_namespace_(ns);
  op.set_key(key);
  op.set_version(version);
  kv::Command expire_cmd;
  expire_cmd.set_timestamp_ms(now_ms);
  expire_cmd.set_actor("system:ttl");
  RETURN_IF_ERROR(ApplyExpire(expire_cmd, op, r));
  return std::optional<int64_t>();
}

absl::StatusOr<int64_t> KvStore::AppendChange(v1::ChangeEvent* c) {
  ASSIGN_OR_RETURN(Statement * st,
                   writer_->Prepare("INSERT INTO changelog(namespace, key, op, value, "
                                    "version, actor, timestamp, tenant_id) "
                                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  st->Bind(1, c->namespace_()).Bind(2, c->key()).Bind(3, c->op());
  if (c->op() == "set") {
    st->Bind(4, c->value());
  } else {
    st->BindNull(4);
  }
  st->Bind(5, c->version()).Bind(6, c->actor()).Bind(7, c->timestamp());
  st->Bind(8, c->tenant_id());
  RETURN_IF_ERROR(st->Run());
  c->set_seq(sqlite3_last_insert_rowid(writer_->raw()));
  return c->seq();
}

absl::Status KvStore::ApplySet(const kv::Command& cmd, const kv::SetOp& op,
                               CommandResult* r) {
  absl::StatusOr<std::string> tenant = ExtractTenantId(op.namespace_());
  if (!tenant.ok() || op.key().empty()) {
    r->status = absl::InvalidArgumentError("set: invalid namespace or key");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> cur,
                   CurrentVersion(op.namespace_(), op.key(), cmd.timestamp_ms(), r));
  int64_t current = cur.value_or(0);
  if (op.has_expected_version() && op.expected_version() != current) {
    r->status = VersionConflict(current);
    return absl::OkStatus();
  }
  int64_t version = current + 1;
  ASSIGN_OR_RETURN(
      Statement * st,
      writer_->Prepare("INSERT INTO kv(namespace, key, value, version, updated_by, "
                       "updated_at, expires_at) VALUES(?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT(namespace, key) DO UPDATE SET "
                       "value = excluded.value, version = excluded.version, "
                       "updated_by = excluded.updated_by, "
                       "updated_at = excluded.updated_at, "
                       "expires_at = excluded.expires_at"));
  st->Bind(1, op.namespace_()).Bind(2, op.key()).Bind(3, op.value());
  st->Bind(4, version).Bind(5, cmd.actor()).Bind(6, cmd.timestamp_ms());
  if (op.expires_at() > 0) {
    st->Bind(7, op.expires_at());
  } else {
    st->BindNull(7);
  }
  RETURN_IF_ERROR(st->Run());
  v1::ChangeEvent& c = r->changes.emplace_back();
  c.set_op("set");
  c.set_namespace_(op.namespace_());
  c.set_key(op.key());
  c.set_value(op.value());
  c.set_version(version);
  c.set_actor(cmd.actor());
  c.set_timestamp(cmd.timestamp_ms());
  c.set_tenant_id(*tenant);
  return AppendChange(&c).status();
}

absl::Status KvStore::ApplyDelete(const kv::Command& cmd, const kv::DeleteOp& op,
                                  CommandResult* r) {
  absl::StatusOr<std::string> tenant = ExtractTenantId(op.namespace_());
  if (!tenant.ok() || op.key().empty()) {
    r->status = absl::InvalidArgumentError("delete: invalid namespace or key");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> cur,
                   CurrentVersion(op.namespace_(), op.key(), cmd.timestamp_ms(), r));
  int64_t current = cur.value_or(0);
  if (op.has_expected_version() && op.expected_version() != current) {
    r->status = VersionConflict(current);
    return absl::OkStatus();
  }
  if (!cur) {
    r->status = absl::NotFoundError(
        absl::StrCat("no key ", op.key(), " in ", op.namespace_()));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(Statement * st,
                   writer_->Prepare("DELETE FROM kv WHERE namespace = ? AND key = ?"));
  st->Bind(1, op.namespace_()).Bind(2, op.key());
  RETURN_IF_ERROR(st->Run());
  v1::ChangeEvent& c = r->changes.emplace_back();
  c.set_op("delete");
  c.set_namespace_(op.namespace_());
  c.set_key(op.key());
  c.set_version(current);
  c.set_actor(cmd.actor());
  c.set_timestamp(cmd.timestamp_ms());
  c.set_tenant_id(*tenant);
  return AppendChange(&c).status();
}

absl::Status KvStore::ApplyExpire(const kv::Command& cmd, const kv::ExpireOp& op,
                                  CommandResult* r) {
  absl::StatusOr<std::string> tenant = ExtractTenantId(op.namespace_());
  if (!tenant.ok()) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement * st,
                   writer_->Prepare("DELETE FROM kv WHERE namespace = ? AND key = ? "
                                    "AND version = ? AND expires_at IS NOT NULL "
                                    "AND expires_at <= ?"));
  st->Bind(1, op.namespace_()).Bind(2, op.key()).Bind(3, op.version());
  st->Bind(4, cmd.timestamp_ms());
  RETURN_IF_ERROR(st->Run());
  if (writer_->changes() == 0) return absl::OkStatus();  // rewritten or gone
  v1::ChangeEvent& c = r->changes.emplace_back();
  c.set_op("expire");
  c.set_namespace_(op.namespace_());
  c.set_key(op.key());
  c.set_version(op.version());
  c.set_actor(cmd.actor());
  c.set_timestamp(cmd.timestamp_ms());
  c.set_tenant_id(*tenant);
  return AppendChange(&c).status();
}

absl::Status KvStore::ApplyTrim(const kv::TrimChangelog& op) {
  if (op.keep() < 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement * st,
                   writer_->Prepare("DELETE FROM changelog WHERE seq <= "
                                    "(SELECT seq FROM sqlite_sequence "
                                    "WHERE name = 'changelog') - ?"));
  st->Bind(1, op.keep());
  return st->Run();
}

absl::StatusOr<v1::Entry> KvStore::Get(const std::string& ns,
                                         const std::string& key,
                                         int64_t now_ms) const {
  auto conn = readers_->Acquire();
  ASSIGN_OR_RETURN(Statement * st,
                   conn->Prepare(absl::StrCat("SELECT ", kKvColumns,
                                              " FROM kv WHERE namespace = ? AND key = ? "
                                              "AND (expires_at IS NULL OR expires_at > ?)")));
  st->Bind(1, ns).Bind(2, key).Bind(3, now_ms);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("no key ", key, " in ", ns));
  }
  v1::Entry e = ReadEntry(*st);
  st->Reset();
  return e;
}

absl::StatusOr<ListResult> KvStore::List(const std::string& ns,
                                         const std::string& prefix,
                                         const std::string& after, int limit,
                                         int64_t now_ms, size_t max_bytes) const {
  limit = std::max(1, limit);
  std::string lower = std::max(after, prefix);
  std::string upper = PrefixEnd(prefix);
  auto conn = readers_->Acquire();
  ASSIGN_OR_RETURN(
      Statement * st,
      conn->Prepare(absl::StrCat(
          "SELECT ", kKvColumns,
          " FROM kv WHERE namespace = ?1 AND key >= ?2 AND (?3 = '' OR key < ?3) "
          "AND (?4 = '' OR key > ?4) "
          "AND (expires_at IS NULL OR expires_at > ?5) ORDER BY key LIMIT ?6")));
  st->Bind(1, ns).Bind(2, lower).Bind(3, upper).Bind(4, after).Bind(5, now_ms);
  st->Bind(6, static_cast<int64_t>(limit) + 1);
  ListResult out;
  size_t bytes = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    if (static_cast<int>(out.entries.size()) == limit || bytes >= max_bytes) {
      out.next = out.entries.back().key();
      break;
    }
    out.entries.push_back(ReadEntry(*st));
    const v1::Entry& e = out.entries.back();
    bytes += e.namespace_().size() + e.key().size() + e.value().size() + e.updated_by().size();
  }
  st->Reset();
  return out;
}

absl::StatusOr<ChangesResult> KvStore::ChangesSince(int64_t since,
                                                    const ChangeFilter& filter,
                                                    int limit, size_t max_bytes) const {
  limit = std::max(1, limit);
  auto conn = readers_->Acquire();
  // One read transaction so that the bounds and the rows agree.
  Transaction tx(conn.get());
  RETURN_IF_ERROR(tx.BeginDeferred());
  ChangesResult out;
  ASSIGN_OR_RETURN(out.last_seq,
                   conn->QueryInt("SELECT seq FROM sqlite_sequence WHERE name = 'changelog'", 0));
  ASSIGN_OR_RETURN(out.oldest_seq,
                   conn->QueryInt("SELECT min(seq) FROM changelog", 0));
  if (out.oldest_seq == 0) out.oldest_seq = out.last_seq + 1;
  if (since < out.oldest_seq - 1) {  // (since + 1 could overflow)
    absl::Status s = absl::OutOfRangeError(absl::StrCat(
        "changes after seq ", since, " have been compacted; the oldest kept is ",
        out.oldest_seq));
    s.SetPayload(kOldestSeqPayload, absl::Cord(absl::StrCat(out.oldest_seq)));
    return s;
  }
  ASSIGN_OR_RETURN(
      Statement * st,
      conn->Prepare(absl::StrCat(
          "SELECT ", kChangeColumns,
          " FROM changelog WHERE tenant_id = ?1 AND seq > ?2 "
          "AND (?3 = '' OR namespace = ?3) ORDER BY seq LIMIT ?4")));
  st->Bind(1, filter.tenant_id).Bind(2, since).Bind(3, filter.namespace_);
  st->Bind(4, static_cast<int64_t>(limit));
  size_t bytes = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.changes.push_back(ReadChange(*st));
    const v1::ChangeEvent& c = out.changes.back();
    bytes += c.namespace_().size() + c.key().size() + c.value().size() + c.actor().size();
    if (bytes >= max_bytes) break;
  }
  st->Reset();
  // A full page continues after its last row; a short page has seen
  // everything up to last_seq.
  out.more = !out.changes.empty() &&
             (static_cast<int>(out.changes.size()) == limit || bytes >= max_bytes);
  out.next_seq = out.more ? out.changes.back().seq() : std::max(since, out.last_seq);
  RETURN_IF_ERROR(tx.Commit());
  return out;
}

absl::Status KvStore::CheckpointWal() {
  return checkpointer_->Run();
}

absl::Status KvStore::SyncToDisk() const {
  // A commit is durable once its WAL frames are: fsync the WAL. Frames that
  // a checkpoint already copied into the database file were fsynced there
  // before the WAL could restart over them; fsync the file anyway, and the
  // directory that holds the WAL's entry.
  RETURN_IF_ERROR(FsyncFile(path_ + "-wal", /*missing_ok=*/true));
  RETURN_IF_ERROR(FsyncFile(path_, /*missing_ok=*/false));
  std::string dir = std::filesystem::path(path_).parent_path().string();
  return FsyncDir(dir.empty() ? "." : dir);
}

absl::StatusOr<std::vector<kv::ExpireOp>> KvStore::DueExpirations(int64_t now_ms,
                                                                  int limit) const {
  auto conn = readers_->Acquire();
  ASSIGN_OR_RETURN(Statement * st,
                   conn->Prepare("SELECT namespace, key, version FROM kv "
                                 "WHERE expires_at IS NOT NULL AND expires_at <= ? "
                                 "ORDER BY expires_at LIMIT ?"));
  st->Bind(1, now_ms).Bind(2, static_cast<int64_t>(limit));
  std::vector<kv::ExpireOp> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    kv::ExpireOp& op = out.emplace_back();
    op.set_namespace_(st->Text(0));
    op.set_key(st->Text(1));
    op.set_version(st->Int(2));
  }
  st->Reset();
  return out;
}

absl::StatusOr<std::optional<int64_t>> KvStore::NextExpiry() const {
  auto conn = readers_->Acquire();
  ASSIGN_OR_RETURN(int64_t t, conn->QueryInt("SELECT min(expires_at) FROM kv "
                                             "WHERE expires_at IS NOT NULL", 0));
  if (t == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(t);
}

absl::StatusOr<int64_t> KvStore::LastSeq() const {
  auto conn = readers_->Acquire();
  return conn->QueryInt("SELECT seq FROM sqlite_sequence WHERE name = 'changelog'", 0);
}

absl::StatusOr<int64_t> KvStore::OldestSeq() const {
  auto conn = readers_->Acquire();
  Transaction tx(conn.get());
  RETURN_IF_ERROR(tx.BeginDeferred());
  ASSIGN_OR_RETURN(int64_t oldest, conn->QueryInt("SELECT min(seq) FROM changelog", 0));
  if (oldest == 0) {
    ASSIGN_OR_RETURN(int64_t last, conn->QueryInt("SELECT seq FROM sqlite_sequence "
                                                  "WHERE name = 'changelog'", 0));
    oldest = last + 1;
  }
  RETURN_IF_ERROR(tx.Commit());
  return oldest;
}

absl::StatusOr<int64_t> KvStore::ChangelogSize() const {
  auto conn = readers_->Acquire();
  return conn->QueryInt("SELECT count(*) FROM changelog", 0);
}

namespace {

absl::StatusOr<std::string> SerializeConnection(Connection* conn) {
  sqlite3_int64 size = 0;
  unsigned char* data = sqlite3_serialize(conn->raw(), "main", &size, 0);
  if (data == nullptr) {
    return absl::InternalError("sqlite3_serialize of state.db failed");
  }
  std::string image(reinterpret_cast<char*>(data), size);
  sqlite3_free(data);
  return image;
}

}  // namespace

absl::StatusOr<std::string> KvStore::Serialize() { return SerializeConnection(writer_.get()); }

absl::StatusOr<std::unique_ptr<KvStore::Pinned>> KvStore::Pin() const {
  Connection* conn = readers_->AcquireRaw();
  std::unique_ptr<Pinned> pinned(new Pinned(this, conn));
  // BEGIN then a read: the transaction's snapshot is taken at the first read.
  absl::Status s = conn->Exec("BEGIN");
  if (!s.ok()) return s;
  absl::StatusOr<int64_t> applied = conn->QueryInt(
      "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'applied_index'");
  if (!applied.ok()) return applied.status();
  pinned->applied_index_ = *applied;
  return pinned;
}

KvStore::Pinned::~Pinned() {
  conn_->Exec("ROLLBACK").IgnoreError();
  store_->readers_->ReleaseRaw(conn_);
}

absl::StatusOr<std::string> KvStore::Pinned::Serialize() { return SerializeConnection(conn_); }

namespace {

// An image opened as an in-memory database; closed on destruction.
class ImageDb {
 public:
  ~ImageDb() { sqlite3_close(db_); }
  sqlite3* db() const { return db_; }

  static absl::StatusOr<std::unique_ptr<ImageDb>> Open(const std::string& image) {
    static constexpr char kMagic[] = "SQLite format 3";
    if (image.size() < 100 || std::memcmp(image.data(), kMagic, sizeof(kMagic)) != 0) {
      return absl::InvalidArgumentError("snapshot image is not an SQLite database");
    }
    // An in-memory database cannot be in WAL mode: mark the image as a
    // rollback-journal database (header bytes 18-19) before opening it.
    unsigned char* buf = static_cast<unsigned char*>(sqlite3_malloc64(image.size()));
    if (buf == nullptr) return absl::ResourceExhaustedError("out of memory");
    std::memcpy(buf, image.data(), image.size());
    buf[18] = 1;
    buf[19] = 1;
    std::unique_ptr<ImageDb> out(new ImageDb);
    int rc = sqlite3_open_v2(":memory:", &out->db_, SQLITE_OPEN_READWRITE, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_free(buf);
      return SqliteError(nullptr, rc, "open in-memory database");
    }
    rc = sqlite3_deserialize(out->db_, "main", buf, image.size(), image.size(),
                             SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
    if (rc != SQLITE_OK) return SqliteError(out->db_, rc, "deserialize snapshot");
    return out;
  }

  // The first column of the rows of `sql`, as text (NULL as "").
  absl::StatusOr<std::vector<std::string>> Column(const char* sql) const {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(st);
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot image is not a state.db: ", sqlite3_errmsg(db_)));
    }
    std::vector<std::string> out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot image is damaged: ", sqlite3_errstr(rc)));
    }
    return out;
  }

 private:
  ImageDb() = default;
  sqlite3* db_ = nullptr;
};

// The tables of state.db and their columns, in order.
// The database header (sqlite.org/fileformat.html §1.3) as state.db writes
// it: the magic string, and text encoding 1 (UTF-8). SQLite opens an image
// whose encoding field is out of range, but a restore from it leaves our
// state.db unreadable (found by snapshot_image_fuzzer).
absl::Status CheckHeader(const std::string& image) {
  static constexpr char kMagic[] = "SQLite format 3";  // and its NUL
  if (image.size() < 100 || image.compare(0, sizeof(kMagic), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError("snapshot image is not an SQLite database");
  }
  const unsigned char* encoding = reinterpret_cast<const unsigned char*>(image.data()) + 56;
  if (encoding[0] != 0 || encoding[1] != 0 || encoding[2] != 0 || encoding[3] != 1) {
    return absl::InvalidArgumentError("snapshot image is not UTF-8 (its header names another "
                                      "text encoding)");
  }
  return absl::OkStatus();
}

absl::Status CheckSchema(const ImageDb& image) {
  static const std::vector<std::pair<const char*, std::vector<std::string>>> kTables = {
      {"kv", {"namespace", "key", "value", "version", "updated_by", "updated_at", "expires_at"}},
      {"changelog",
       {"seq", "namespace", "key", "op", "value", "version", "actor", "timestamp", "tenant_id"}},
      {"meta", {"key", "value"}},
  };
  for (const auto& [table, want] : kTables) {
    std::string query = absl::StrCat("SELECT name FROM pragma_table_info('", table, "')");
    absl::StatusOr<std::vector<std::string>> have = image.Column(query.c_str());
    if (!have.ok()) return have.status();
    if (*have != want) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot image is not a state.db (table ", table, " differs)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status KvStore::ValidateImage(const std::string& image, uint64_t index, uint64_t term) {
  RETURN_IF_ERROR(CheckHeader(image));
  ASSIGN_OR_RETURN(std::unique_ptr<ImageDb> db, ImageDb::Open(image));
  RETURN_IF_ERROR(CheckSchema(*db));
  ASSIGN_OR_RETURN(std::vector<std::string> check, db->Column("PRAGMA quick_check"));
  if (check.size() != 1 || check[0] != "ok") {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot image fails PRAGMA quick_check: ", check.empty() ? "no answer" : check[0]));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> applied,
                   db->Column("SELECT value FROM meta WHERE key IN ('applied_index', "
                              "'applied_term') ORDER BY key"));
  uint64_t got_index = 0, got_term = 0;
  if (applied.size() != 2 || !absl::SimpleAtoi(applied[0], &got_index) ||
      !absl::SimpleAtoi(applied[1], &got_term)) {
    return absl::InvalidArgumentError("snapshot image has no applied_index/applied_term");
  }
  if (got_index != index || got_term != term) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot image is of index ", got_index, " term ", got_term, ", announced as index ",
        index, " term ", term));
  }
  return absl::OkStatus();
}

absl::Status KvStore::Restore(const std::string& image) {
  RETURN_IF_ERROR(CheckHeader(image));
  ASSIGN_OR_RETURN(std::unique_ptr<ImageDb> mem, ImageDb::Open(image));
  // Refuse an image that is not a state.db before touching ours.
  RETURN_IF_ERROR(CheckSchema(*mem));
  absl::Status status;
  sqlite3_backup* b = sqlite3_backup_init(writer_->raw(), "main", mem->db(), "main");
  if (b == nullptr) {
    status = SqliteError(writer_->raw(), sqlite3_errcode(writer_->raw()), "restore snapshot");
  } else {
    int rc = sqlite3_backup_step(b, -1);
    int finish_rc = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
      status = SqliteError(writer_->raw(), rc, "restore snapshot");
    } else if (finish_rc != SQLITE_OK) {
      status = SqliteError(writer_->raw(), finish_rc, "restore snapshot");
    }
  }
  if (!status.ok()) return status;
  return LoadApplied();
}

absl::StatusOr<std::string> KvStore::ContentHash(uint64_t* applied_index) const {
  auto conn = readers_->Acquire();
  Transaction tx(conn.get());
  RETURN_IF_ERROR(tx.BeginDeferred());
  if (applied_index != nullptr) {
    ASSIGN_OR_RETURN(int64_t applied,
                     conn->QueryInt("SELECT CAST(value AS INTEGER) FROM meta "
                                    "WHERE key = 'applied_index'"));
    *applied_index = applied;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> owned(EVP_MD_CTX_new(),
                                                                &EVP_MD_CTX_free);
  EVP_MD_CTX* ctx = owned.get();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("cannot start a SHA-256 digest");
  }
  auto add = [ctx](absl::string_view s) {
    uint64_t n = s.size();
    EVP_DigestUpdate(ctx, &n, sizeof(n));
    EVP_DigestUpdate(ctx, s.data(), s.size());
  };
  auto hash_query = [&](absl::string_view sql, int columns) -> absl::Status {
    ASSIGN_OR_RETURN(Statement * st, conn->Prepare(sql));
    while (true) {
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      for (int i = 0; i < columns; ++i) {
        add(st->IsNull(i) ? absl::string_view("\0null", 5) : st->View(i));
      }
    }
    st->Reset();
    return absl::OkStatus();
  };
  absl::Status s = hash_query(absl::StrCat("SELECT ", kKvColumns,
                                           " FROM kv ORDER BY namespace, key"), 7);
  if (s.ok()) {
    s = hash_query(absl::StrCat("SELECT ", kChangeColumns,
                                " FROM changelog ORDER BY seq"), 9);
  }
  if (s.ok()) {
    s = hash_query("SELECT seq FROM sqlite_sequence WHERE name = 'changelog'", 1);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (s.ok() && EVP_DigestFinal_ex(ctx, md, &len) != 1) {
    s = absl::InternalError("cannot finish a SHA-256 digest");
  }
  if (!s.ok()) return s;
  RETURN_IF_ERROR(tx.Commit());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(md), len));
}

}  // namespace concordance::storage
