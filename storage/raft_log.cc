#include "storage/raft_log.h"

#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/durable_file.h"
#include "util/status_macros.h"
#include "util/failpoint.h"

namespace concordance::storage {
namespace {

constexpr char kSchemaVersion[] = "1";

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS log (
    idx   INTEGER PRIMARY KEY,
    term  INTEGER NOT NULL,
    type  INTEGER NOT NULL,
    data  BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
)sql";

std::string ToText(const google::protobuf::Message& m) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string out;
  printer.PrintToString(m, &out);
  return out;
}

// A meta value that does not parse is damage, never a silent 0: a term read
// back as 0 would let this node vote twice in one term.
absl::StatusOr<uint64_t> MetaUint(absl::string_view key, absl::string_view value) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(value, &v)) {
    return absl::DataLossError(absl::StrCat("raft.db: unreadable ", key, " '", value, "'"));
  }
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RaftLog>> RaftLog::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer, Connection::Open(path));
  RETURN_IF_ERROR(writer->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(writer->Exec("PRAGMA cache_size=-16384"));
  // Checkpoints run on a background thread (CheckpointWal), never inside a
  // commit on the writer thread.
  RETURN_IF_ERROR(writer->Exec("PRAGMA wal_autocheckpoint=0"));
  RETURN_IF_ERROR(writer->Exec(kSchema));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader, Connection::Open(path));
  RETURN_IF_ERROR(reader->Exec("PRAGMA query_only=1"));
  RETURN_IF_ERROR(reader->Exec("PRAGMA cache_size=-16384"));
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  std::string snapshot_dir = dir + "/snapshots";
  std::error_code ec;
  std::filesystem::create_directories(snapshot_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", snapshot_dir));
  RETURN_IF_ERROR(FsyncDir(dir));  // the new directory entry itself
  ASSIGN_OR_RETURN(std::unique_ptr<WalCheckpointer> checkpointer,
                   WalCheckpointer::Open(path, writer.get(), WalCheckpointer::kDefaultMinFrames));
  std::unique_ptr<RaftLog> log(
      new RaftLog(std::move(writer), std::move(reader), std::move(snapshot_dir)));
  log->checkpointer_ = std::move(checkpointer);
  RETURN_IF_ERROR(log->Load());
  log->RemoveStaleSnapshotFiles();
  return log;
}

absl::Status RaftLog::Load() {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Statement * st, writer_->Prepare("SELECT key, value FROM meta"));
  bool has_version = false;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    absl::string_view key = st->View(0);
    absl::string_view value = st->View(1);
    if (key == "currentTerm") {
      ASSIGN_OR_RETURN(uint64_t v, MetaUint(key, value));
      hard_state_.set_term(v);
    } else if (key == "votedFor") {
      hard_state_.set_voted_for(std::string(value));
    } else if (key == "commitIndex") {
      ASSIGN_OR_RETURN(uint64_t v, MetaUint(key, value));
      hard_state_.set_commit(v);
    } else if (key == "lastIncludedIndex") {
      ASSIGN_OR_RETURN(uint64_t v, MetaUint(key, value));
      snapshot_meta_.set_index(v);
    } else if (key == "lastIncludedTerm") {
      ASSIGN_OR_RETURN(uint64_t v, MetaUint(key, value));
      snapshot_meta_.set_term(v);
    } else if (key == "snapshotSize") {
      ASSIGN_OR_RETURN(uint64_t v, MetaUint(key, value));
      snapshot_meta_.set_size(v);
    } else if (key == "snapshotChecksum") {
      ASSIGN_OR_RETURN(uint64_t v, MetaUint(key, value));
      snapshot_meta_.set_checksum(v);
    } else if (key == "snapshotConf") {
      if (!google::protobuf::TextFormat::ParseFromString(
              std::string(value), snapshot_meta_.mutable_conf_state())) {
        return absl::DataLossError("raft.db: unreadable snapshotConf");
      }
    } else if (key == "confState") {
      if (!google::protobuf::TextFormat::ParseFromString(std::string(value),
                                                         &conf_state_)) {
        return absl::DataLossError("raft.db: unreadable confState");
      }
    } else if (key == "schemaVersion") {
      has_version = true;
      if (value != kSchemaVersion) {
        return absl::FailedPreconditionError(
            absl::StrCat("raft.db has schema version ", value,
                         "; this binary reads version ", kSchemaVersion));
      }
    }
  }
  if (!has_version) RETURN_IF_ERROR(PutMeta("schemaVersion", kSchemaVersion));
  ASSIGN_OR_RETURN(int64_t last, writer_->QueryInt("SELECT max(idx) FROM log", 0));
  ASSIGN_OR_RETURN(int64_t first, writer_->QueryInt("SELECT min(idx) FROM log", 0));
  first_index_ = snapshot_meta_.index() + 1;
  last_index_ = std::max<uint64_t>(last > 0 ? last : 0, snapshot_meta_.index());
  tail_first_ = last_index_ + 1;
  // Rows below first_index_ are compacted ones not purged yet (see
  // PurgeCompactedRows); the live log must start right after the snapshot.
  purged_below_ = first > 0 ? std::min<uint64_t>(first, first_index_) : first_index_;
  if (last_index_ >= first_index_) {
    ASSIGN_OR_RETURN(Statement * st, writer_->Prepare("SELECT min(idx) FROM log WHERE idx >= ?"));
    st->Bind(1, static_cast<int64_t>(first_index_));
    ASSIGN_OR_RETURN(bool row, st->Step());
    uint64_t live_first = row ? st->Int(0) : 0;
    st->Reset();
    if (live_first != first_index_) {
      return absl::DataLossError(
          absl::StrCat("raft.db: log starts at ", live_first,
                       " but the snapshot covers up to ", snapshot_meta_.index()));
    }
  }
  return absl::OkStatus();
}

absl::Status RaftLog::PutMeta(absl::string_view key, absl::string_view value) {
  ASSIGN_OR_RETURN(Statement * st,
                   writer_->Prepare("INSERT INTO meta(key, value) VALUES(?, ?) "
                                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  st->Bind(1, key).Bind(2, value);
  return st->Run();
}

absl::Status RaftLog::CheckpointWal() {
  return checkpointer_->Run();
}

absl::StatusOr<std::optional<std::string>> RaftLog::ReadMeta(const std::string& key) {
  ASSIGN_OR_RETURN(Statement * st, writer_->Prepare("SELECT value FROM meta WHERE key = ?"));
  st->Bind(1, key);
  ASSIGN_OR_RETURN(bool row, st->Step());
  std::optional<std::string> out;
  if (row) out = st->Text(0);
  st->Reset();
  return out;
}

absl::Status RaftLog::WriteMeta(const std::string& key, const std::string& value) {
  return PutMeta(key, value);
}

const raft::LogEntry* RaftLog::TailLocked(uint64_t index) const {
  if (tail_.empty() || index < tail_first_ || index >= tail_first_ + tail_.size()) return nullptr;
  return &tail_[index - tail_first_];
}

void RaftLog::TrimTailLocked() {
  while (!tail_.empty() &&
         (tail_.size() > kTailEntries || tail_bytes_ > kTailBytes || tail_first_ < first_index_)) {
    tail_bytes_ -= tail_.front().data().size();
    tail_.pop_front();
    ++tail_first_;
  }
  if (tail_.empty()) tail_first_ = last_index_ + 1;
}

uint64_t RaftLog::FirstIndex() const {
  absl::MutexLock l(&mu_);
  return first_index_;
}

uint64_t RaftLog::LastIndex() const {
  absl::MutexLock l(&mu_);
  return last_index_;
}

bool RaftLog::IsEmpty() const {
  absl::MutexLock l(&mu_);
  return last_index_ == 0 && snapshot_meta_.index() == 0 &&
         hard_state_.term() == 0;
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t index) const {
  {
    absl::MutexLock l(&mu_);
    if (index == snapshot_meta_.index()) return snapshot_meta_.term();
    if (index < first_index_ || index > last_index_) {
      return absl::OutOfRangeError(absl::StrCat("no entry at index ", index));
    }
    if (const raft::LogEntry* e = TailLocked(index)) return e->term();
  }
  absl::MutexLock l(&read_mu_);
  ASSIGN_OR_RETURN(Statement * st, reader_->Prepare("SELECT term FROM log WHERE idx = ?"));
  st->Bind(1, static_cast<int64_t>(index));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return absl::OutOfRangeError(absl::StrCat("no entry at index ", index));
  uint64_t term = st->Int(0);
  st->Reset();
  return term;
}

absl::Status RaftLog::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                              std::vector<raft::LogEntry>* out) const {
  {
    absl::MutexLock l(&mu_);
    if (lo < first_index_ || hi > last_index_ + 1 || lo > hi) {
      return absl::OutOfRangeError(
          absl::StrCat("entries [", lo, ",", hi, ") not in log [", first_index_,
                       ",", last_index_, "]"));
    }
    if (lo < hi && TailLocked(lo) != nullptr) {
      uint64_t bytes = 0;
      for (uint64_t i = lo; i < hi; ++i) {
        const raft::LogEntry& e = *TailLocked(i);
        if (i > lo && bytes + e.data().size() > max_bytes) break;
        bytes += e.data().size();
        out->push_back(e);
      }
      return absl::OkStatus();
    }
  }
  if (lo == hi) return absl::OkStatus();
  absl::MutexLock l(&read_mu_);
  ASSIGN_OR_RETURN(
      Statement * st,
      reader_->Prepare("SELECT idx, term, type, data FROM log "
                       "WHERE idx >= ? AND idx < ? ORDER BY idx"));
  st->Bind(1, static_cast<int64_t>(lo)).Bind(2, static_cast<int64_t>(hi));
  uint64_t bytes = 0;
  uint64_t expect = lo;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    absl::string_view data = st->View(3);
    if (expect > lo && bytes + data.size() > max_bytes) break;
    if (static_cast<uint64_t>(st->Int(0)) != expect) {
      st->Reset();
      return absl::DataLossError(absl::StrCat("raft.db: missing entry ", expect));
    }
    raft::LogEntry& e = out->emplace_back();
    e.set_index(st->Int(0));
    e.set_term(st->Int(1));
    e.set_type(static_cast<raft::EntryType>(st->Int(2)));
    e.set_data(std::string(data));
    bytes += data.size();
    ++expect;
  }
  st->Reset();
  if (expect == lo) {
    return absl::DataLossError(absl::StrCat("raft.db: missing entry ", lo));
  }
  return absl::OkStatus();
}

absl::StatusOr<raft::LogEntry> RaftLog::LastConfigEntry(uint64_t max_index) const {
  uint64_t first = FirstIndex();  // rows below it are compacted, not purged yet
  absl::MutexLock l(&read_mu_);
  ASSIGN_OR_RETURN(Statement * st,
                   reader_->Prepare("SELECT idx, term, data FROM log WHERE type = 1 "
                                    "AND idx <= ? AND idx >= ? ORDER BY idx DESC LIMIT 1"));
  st->Bind(1, static_cast<int64_t>(std::min<uint64_t>(max_index, INT64_MAX)))
      .Bind(2, static_cast<int64_t>(first));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return absl::NotFoundError("no config entry in the log");
  raft::LogEntry e;
  e.set_index(st->Int(0));
  e.set_term(st->Int(1));
  e.set_type(raft::CONFIG);
  e.set_data(st->Text(2));
  st->Reset();
  return e;
}

raft::HardState RaftLog::hard_state() const {
  absl::MutexLock l(&mu_);
  return hard_state_;
}

raft::SnapshotMeta RaftLog::snapshot_meta() const {
  absl::MutexLock l(&mu_);
  return snapshot_meta_;
}

raft::ConfState RaftLog::conf_state() const {
  absl::MutexLock l(&mu_);
  return conf_state_;
}

std::string RaftLog::SnapshotPath(const raft::SnapshotMeta& m) const {
  return absl::StrCat(snapshot_dir_, "/snap-", m.index(), "-", m.term(), ".db");
}

void RaftLog::RemoveStaleSnapshotFiles() const {
  std::string keep;
  {
    absl::MutexLock l(&mu_);
    if (HasImage(snapshot_meta_)) keep = SnapshotPath(snapshot_meta_);
  }
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(snapshot_dir_, ec)) {
    if (f.path().string() != keep) std::filesystem::remove(f.path(), ec);
  }
}

absl::StatusOr<Snapshot> RaftLog::LoadSnapshot() const {
  raft::SnapshotMeta meta;
  {
    absl::MutexLock l(&mu_);
    if (snapshot_data_ != nullptr || snapshot_meta_.index() == 0) {
      Snapshot s{snapshot_meta_, snapshot_data_};
      if (s.data == nullptr) s.data = std::make_shared<const std::string>();
      return s;
    }
    if (!HasImage(snapshot_meta_)) {
      image_wanted_ = true;
      return absl::UnavailableError(absl::StrCat(
          "the log is compacted at ", snapshot_meta_.index(),
          " without a snapshot image; one is requested"));
    }
    meta = snapshot_meta_;
  }
  std::string path = SnapshotPath(meta);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::DataLossError(absl::StrCat("snapshot file ", path, " is missing"));
  // One sized read (this runs on the Raft loop when a follower needs it).
  auto data = std::make_shared<std::string>();
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) return absl::DataLossError(absl::StrCat("cannot size snapshot file ", path));
  data->resize(static_cast<size_t>(size));
  if (!in.read(data->data(), size)) {
    return absl::DataLossError(absl::StrCat("cannot read snapshot file ", path));
  }
  if (data->size() != meta.size() || SnapshotChecksum(*data) != meta.checksum()) {
    return absl::DataLossError(absl::StrCat("snapshot file ", path, " fails its checksum"));
  }
  absl::MutexLock l(&mu_);
  if (snapshot_meta_.index() == meta.index()) snapshot_data_ = data;
  return Snapshot{meta, data};
}

absl::Status RaftLog::Save(const raft::HardState* hard_state,
                           absl::Span<const raft::LogEntry> entries,
                           const raft::ConfState* conf_state) {
  uint64_t new_last;
  {
    absl::MutexLock l(&mu_);
    new_last = last_index_;
    if (!entries.empty()) {
      uint64_t first = entries.front().index();
      if (first < first_index_ || first > last_index_ + 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "append at ", first, " leaves a gap or rewrites the snapshot; "
            "log is [", first_index_, ",", last_index_, "]"));
      }
      for (size_t i = 1; i < entries.size(); ++i) {
        if (entries[i].index() != first + i) {
          return absl::InvalidArgumentError("entries are not contiguous");
        }
      }
      new_last = entries.back().index();
    }
  }
  Transaction tx(writer_.get());
  RETURN_IF_ERROR(tx.Begin());
  // Purge a little more than is appended, so the purge always catches up.
  uint64_t appended_bytes = 0;
  for (const raft::LogEntry& e : entries) appended_bytes += e.data().size();
  ASSIGN_OR_RETURN(uint64_t purge_end,
                   PurgeEnd(kPurgeRows + 2 * entries.size(), kPurgeBytes + 2 * appended_bytes));
  RETURN_IF_ERROR(PurgeCompactedRows(purge_end));
  if (!entries.empty()) {
    ASSIGN_OR_RETURN(Statement * del, writer_->Prepare("DELETE FROM log WHERE idx >= ?"));
    del->Bind(1, static_cast<int64_t>(entries.front().index()));
    RETURN_IF_ERROR(del->Run());
    ASSIGN_OR_RETURN(Statement * ins,
                     writer_->Prepare("INSERT INTO log(idx, term, type, data) "
                                      "VALUES(?, ?, ?, ?)"));
    for (const raft::LogEntry& e : entries) {
      ins->Reset();
      ins->Bind(1, static_cast<int64_t>(e.index()))
          .Bind(2, static_cast<int64_t>(e.term()))
          .Bind(3, static_cast<int64_t>(e.type()))
          .BindBlob(4, e.data());
      RETURN_IF_ERROR(ins->Run());
    }
  }
  if (hard_state != nullptr) {
    RETURN_IF_ERROR(PutMeta("currentTerm", absl::StrCat(hard_state->term())));
    RETURN_IF_ERROR(PutMeta("votedFor", hard_state->voted_for()));
    RETURN_IF_ERROR(PutMeta("commitIndex", absl::StrCat(hard_state->commit())));
  }
  if (conf_state != nullptr) {
    RETURN_IF_ERROR(PutMeta("confState", ToText(*conf_state)));
  }
  if (failpoint::Hit("raft-save-before-commit")) {
    // As SQLite reports a failed fsync (the transaction rolls back).
    return absl::DataLossError("disk I/O error: fsync failed (injected by a failpoint)");
  }
  RETURN_IF_ERROR(tx.Commit());
  purged_below_ = purge_end;
  absl::MutexLock l(&mu_);
  if (!entries.empty()) {
    uint64_t first = entries.front().index();
    // Drop cached entries the append replaced, then extend the tail.
    while (!tail_.empty() && tail_first_ + tail_.size() > first) {
      tail_bytes_ -= tail_.back().data().size();
      tail_.pop_back();
    }
    if (tail_.empty()) tail_first_ = first;
    if (tail_first_ + tail_.size() == first) {
      for (const raft::LogEntry& e : entries) {
        tail_bytes_ += e.data().size();
        tail_.push_back(e);
      }
    }
  }
  last_index_ = new_last;
  TrimTailLocked();
  if (hard_state != nullptr) hard_state_ = *hard_state;
  if (conf_state != nullptr) conf_state_ = *conf_state;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RaftLog::PurgeEnd(uint64_t max_rows, uint64_t max_bytes) const {
  uint64_t end;
  {
    absl::MutexLock l(&mu_);
    end = std::min(first_index_, purged_below_ + max_rows);
  }
  return PurgeEndByBytes(end, max_bytes);
}

absl::StatusOr<uint64_t> RaftLog::PurgeEndByBytes(uint64_t end, uint64_t max_bytes) const {
  if (end <= purged_below_ + 1) return std::max(end, purged_below_);
  // length() of a blob comes from the record header: no data is read.
  ASSIGN_OR_RETURN(Statement * st, writer_->Prepare(
                                       "SELECT idx, length(data) FROM log WHERE idx >= ? AND idx < ? "
                                       "ORDER BY idx"));
  st->Bind(1, static_cast<int64_t>(purged_below_)).Bind(2, static_cast<int64_t>(end));
  uint64_t bytes = 0;
  for (bool first = true;; first = false) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    bytes += static_cast<uint64_t>(st->Int(1));
    if (bytes > max_bytes && !first) {
      end = static_cast<uint64_t>(st->Int(0));
      break;
    }
  }
  st->Reset();
  return end;
}

absl::Status RaftLog::PurgeCompactedRows(uint64_t end) {
  if (end <= purged_below_) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement * del, writer_->Prepare("DELETE FROM log WHERE idx < ?"));
  del->Bind(1, static_cast<int64_t>(end));
  return del->Run();
}

absl::Status RaftLog::PutSnapshotMeta(const raft::SnapshotMeta& m) {
  RETURN_IF_ERROR(PutMeta("lastIncludedIndex", absl::StrCat(m.index())));
  RETURN_IF_ERROR(PutMeta("lastIncludedTerm", absl::StrCat(m.term())));
  RETURN_IF_ERROR(PutMeta("snapshotSize", absl::StrCat(m.size())));
  RETURN_IF_ERROR(PutMeta("snapshotChecksum", absl::StrCat(m.checksum())));
  RETURN_IF_ERROR(PutMeta("snapshotConf", ToText(m.conf_state())));
  return absl::OkStatus();
}

absl::Status RaftLog::WriteSnapshotImage(const Snapshot& snapshot) const {
  // Callers have just computed (leader) or verified (installing follower)
  // the checksum, and LoadSnapshot verifies it on every read back: hashing
  // a 45 MB image a second time here bought nothing.
  if (snapshot.data == nullptr || snapshot.data->size() != snapshot.meta.size()) {
    return absl::InvalidArgumentError("snapshot data does not match its size");
  }
  return WriteFileDurably(snapshot_dir_, SnapshotPath(snapshot.meta), *snapshot.data);
}

absl::Status RaftLog::CommitSnapshot(const raft::SnapshotMeta& meta) {
  uint64_t index = meta.index();
  {
    absl::MutexLock l(&mu_);
    // An image at the current compaction point still gets recorded.
    bool adds_image = index == snapshot_meta_.index() && HasImage(meta) &&
                      !HasImage(snapshot_meta_);
    if (index <= snapshot_meta_.index() && !adds_image) {
      // Overtaken (e.g. by an installed snapshot): nothing to record.
      std::error_code ec;
      if (SnapshotPath(meta) != SnapshotPath(snapshot_meta_)) {
        std::filesystem::remove(SnapshotPath(meta), ec);
      }
      return absl::OkStatus();
    }
    if (index > last_index_) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot at ", index, " beyond the log's last index ", last_index_));
    }
  }
  if (HasImage(meta) && !std::filesystem::exists(SnapshotPath(meta))) {
    return absl::FailedPreconditionError("snapshot file not written before its commit");
  }
  Transaction tx(writer_.get());
  RETURN_IF_ERROR(tx.Begin());
  RETURN_IF_ERROR(PutSnapshotMeta(meta));
  // The compacted rows go in chunks (here and in later Saves), not in one
  // transaction: after a bulk load they can be hundreds of megabytes, and
  // deleting them at once stalled the disk for seconds on every follower.
  ASSIGN_OR_RETURN(uint64_t purge_end,
                   PurgeEndByBytes(std::min(index + 1, purged_below_ + kPurgeRows), kPurgeBytes));
  RETURN_IF_ERROR(PurgeCompactedRows(purge_end));
  failpoint::Hit("compact-before-commit");
  RETURN_IF_ERROR(tx.Commit());
  purged_below_ = purge_end;
  {
    absl::MutexLock l(&mu_);
    snapshot_meta_ = meta;
    snapshot_data_.reset();
    first_index_ = index + 1;
    TrimTailLocked();
    if (HasImage(meta)) image_wanted_ = false;
  }
  RemoveStaleSnapshotFiles();
  return absl::OkStatus();
}

absl::Status RaftLog::SaveSnapshot(const Snapshot& snapshot) {
  {
    absl::MutexLock l(&mu_);
    uint64_t index = snapshot.meta.index();
    if (index < snapshot_meta_.index() || index > last_index_) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot at ", index, " outside log [", snapshot_meta_.index(), ",",
                       last_index_, "]"));
    }
  }
  RETURN_IF_ERROR(WriteSnapshotImage(snapshot));
  RETURN_IF_ERROR(CommitSnapshot(snapshot.meta));
  absl::MutexLock l(&mu_);
  if (snapshot_meta_.index() == snapshot.meta.index()) snapshot_data_ = snapshot.data;
  return absl::OkStatus();
}

absl::Status RaftLog::InstallSnapshot(const Snapshot& snapshot) {
  const raft::SnapshotMeta& m = snapshot.meta;
  RETURN_IF_ERROR(WriteSnapshotImage(snapshot));
  failpoint::Hit("snapshot-install-after-file");
  Transaction tx(writer_.get());
  RETURN_IF_ERROR(tx.Begin());
  RETURN_IF_ERROR(PutSnapshotMeta(m));
  // Entries after the snapshot conflict with it and go now; those it covers
  // are purged in chunks like compacted ones.
  ASSIGN_OR_RETURN(Statement * del, writer_->Prepare("DELETE FROM log WHERE idx > ?"));
  del->Bind(1, static_cast<int64_t>(m.index()));
  RETURN_IF_ERROR(del->Run());
  RETURN_IF_ERROR(PutMeta("confState", ToText(m.conf_state())));
  RETURN_IF_ERROR(tx.Commit());
  {
    absl::MutexLock l(&mu_);
    snapshot_meta_ = m;
    snapshot_data_ = snapshot.data;
    image_wanted_ = false;
    conf_state_ = m.conf_state();
    first_index_ = m.index() + 1;
    last_index_ = m.index();
    tail_.clear();
    tail_bytes_ = 0;
    tail_first_ = last_index_ + 1;
  }
  RemoveStaleSnapshotFiles();
  return absl::OkStatus();
}

}  // namespace concordance::storage
