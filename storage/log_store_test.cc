// Contract tests run against both LogStore implementations, plus the SQLite
// specifics (reopen, on-disk durability) for RaftLog.
#include <filesystem>
#include <fstream>
#include <memory>

#include "gtest/gtest.h"
#include "sqlite3.h"
#include "storage/memory_log_store.h"
#include "storage/raft_log.h"
#include "storage/test_util.h"

namespace concordance::storage {
namespace {

using testing::Entry;
using testing::ScratchDir;

class LogStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { store_ = Open(); }
  bool sqlite() const { return GetParam(); }
  std::unique_ptr<LogStore> Open() {
    if (!sqlite()) return std::make_unique<MemoryLogStore>();
    auto log = RaftLog::Open(dir_.File("raft.db"));
    EXPECT_TRUE(log.ok()) << log.status();
    return std::move(*log);
  }
  void Append(std::vector<raft::LogEntry> entries) {
    ASSERT_TRUE(store_->Save(nullptr, entries, nullptr).ok());
  }
  std::vector<raft::LogEntry> Read(uint64_t lo, uint64_t hi) {
    std::vector<raft::LogEntry> out;
    absl::Status s = store_->Entries(lo, hi, UINT64_MAX, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  static Snapshot MakeSnapshot(uint64_t index, uint64_t term, std::string data) {
    Snapshot s;
    s.meta.set_index(index);
    s.meta.set_term(term);
    s.meta.set_size(data.size());
    s.meta.set_checksum(SnapshotChecksum(data));
    s.meta.mutable_conf_state()->add_voters()->set_node_id("n1");
    s.data = std::make_shared<const std::string>(std::move(data));
    return s;
  }

  ScratchDir dir_;
  std::unique_ptr<LogStore> store_;
};

TEST_P(LogStoreTest, EmptyStore) {
  EXPECT_EQ(store_->FirstIndex(), 1u);
  EXPECT_EQ(store_->LastIndex(), 0u);
  EXPECT_EQ(*store_->Term(0), 0u);
  EXPECT_EQ(store_->Term(1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store_->hard_state().term(), 0u);
}

TEST_P(LogStoreTest, AppendManyAndReadRange) {
  std::vector<raft::LogEntry> batch;
  for (uint64_t i = 1; i <= 100; ++i) batch.push_back(Entry(i, 1 + i / 50, raft::COMMAND, "d" + std::to_string(i)));
  Append(batch);
  EXPECT_EQ(store_->LastIndex(), 100u);
  EXPECT_EQ(*store_->Term(49), 1u);
  EXPECT_EQ(*store_->Term(50), 2u);
  auto got = Read(10, 20);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[0].index(), 10u);
  EXPECT_EQ(got[9].data(), "d19");
  EXPECT_EQ(store_->Entries(0, 5, 100, &got).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store_->Entries(90, 102, 100, &got).code(), absl::StatusCode::kOutOfRange);
}

TEST_P(LogStoreTest, EntriesRespectMaxBytesButReturnOne) {
  Append({Entry(1, 1, raft::COMMAND, std::string(100, 'a')),
          Entry(2, 1, raft::COMMAND, std::string(100, 'b')),
          Entry(3, 1, raft::COMMAND, std::string(100, 'c'))});
  std::vector<raft::LogEntry> out;
  ASSERT_TRUE(store_->Entries(1, 4, 10, &out).ok());
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  ASSERT_TRUE(store_->Entries(1, 4, 200, &out).ok());
  EXPECT_EQ(out.size(), 2u);
}

TEST_P(LogStoreTest, TruncatesConflictingSuffix) {
  Append({Entry(1, 1), Entry(2, 1), Entry(3, 1), Entry(4, 1)});
  Append({Entry(3, 2), Entry(4, 2), Entry(5, 2)});
  EXPECT_EQ(store_->LastIndex(), 5u);
  EXPECT_EQ(*store_->Term(2), 1u);
  EXPECT_EQ(*store_->Term(3), 2u);
  // A shorter replacement drops everything after it.
  Append({Entry(2, 3)});
  EXPECT_EQ(store_->LastIndex(), 2u);
  EXPECT_EQ(store_->Term(3).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_P(LogStoreTest, RejectsGapsAndNonContiguousEntries) {
  Append({Entry(1, 1)});
  EXPECT_FALSE(store_->Save(nullptr, std::vector<raft::LogEntry>{Entry(3, 1)}, nullptr).ok());
  EXPECT_FALSE(store_->Save(nullptr, std::vector<raft::LogEntry>{Entry(2, 1), Entry(4, 1)}, nullptr).ok());
  EXPECT_EQ(store_->LastIndex(), 1u);
}

TEST_P(LogStoreTest, HardStateAndEntriesTogether) {
  raft::HardState hs;
  hs.set_term(7);
  hs.set_voted_for("n2");
  hs.set_commit(1);
  std::vector<raft::LogEntry> e = {Entry(1, 7)};
  ASSERT_TRUE(store_->Save(&hs, e, nullptr).ok());
  EXPECT_EQ(store_->hard_state().term(), 7u);
  EXPECT_EQ(store_->hard_state().voted_for(), "n2");
  EXPECT_EQ(store_->LastIndex(), 1u);
}

TEST_P(LogStoreTest, SnapshotCompactsPrefix) {
  std::vector<raft::LogEntry> batch;
  for (uint64_t i = 1; i <= 10; ++i) batch.push_back(Entry(i, i < 6 ? 1 : 2));
  Append(batch);
  ASSERT_TRUE(store_->SaveSnapshot(MakeSnapshot(6, 2, "image")).ok());
  EXPECT_EQ(store_->FirstIndex(), 7u);
  EXPECT_EQ(store_->LastIndex(), 10u);
  EXPECT_EQ(*store_->Term(6), 2u);  // answered from the snapshot
  EXPECT_EQ(store_->Term(5).status().code(), absl::StatusCode::kOutOfRange);
  std::vector<raft::LogEntry> out;
  EXPECT_EQ(store_->Entries(6, 8, 100, &out).code(), absl::StatusCode::kOutOfRange);
  auto snap = store_->LoadSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(*snap->data, "image");
  EXPECT_EQ(snap->meta.index(), 6u);
  // A snapshot past the log is refused.
  EXPECT_FALSE(store_->SaveSnapshot(MakeSnapshot(11, 2, "x")).ok());
}

TEST_P(LogStoreTest, InstallSnapshotDiscardsTheLog) {
  Append({Entry(1, 1), Entry(2, 1), Entry(3, 1), Entry(4, 1)});
  ASSERT_TRUE(store_->InstallSnapshot(MakeSnapshot(3, 5, "s")).ok());
  EXPECT_EQ(store_->FirstIndex(), 4u);
  EXPECT_EQ(store_->LastIndex(), 3u);
  EXPECT_EQ(*store_->Term(3), 5u);
  EXPECT_EQ(store_->conf_state().voters(0).node_id(), "n1");
  // Appending after the snapshot works.
  Append({Entry(4, 5)});
  EXPECT_EQ(store_->LastIndex(), 4u);
}

TEST_P(LogStoreTest, LastConfigEntry) {
  Append({Entry(1, 1, raft::CONFIG, "c1"), Entry(2, 1), Entry(3, 1, raft::CONFIG, "c3"),
          Entry(4, 1)});
  EXPECT_EQ(store_->LastConfigEntry(10)->data(), "c3");
  EXPECT_EQ(store_->LastConfigEntry(2)->data(), "c1");
  ASSERT_TRUE(store_->SaveSnapshot(MakeSnapshot(2, 1, "s")).ok());
  EXPECT_EQ(store_->LastConfigEntry(2).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(LogStoreTest, SnapshotInTwoHalvesAndCompactionPointsWithoutImage) {
  Append({Entry(1, 1), Entry(2, 1), Entry(3, 2), Entry(4, 2), Entry(5, 2)});
  // An image alone changes nothing; committing it compacts.
  Snapshot at2 = MakeSnapshot(2, 1, "image-2");
  ASSERT_TRUE(store_->WriteSnapshotImage(at2).ok());
  EXPECT_EQ(store_->FirstIndex(), 1u);
  ASSERT_TRUE(store_->CommitSnapshot(at2.meta).ok());
  EXPECT_EQ(store_->FirstIndex(), 3u);
  EXPECT_EQ(*store_->LoadSnapshot()->data, "image-2");
  // A commit whose image was never written is refused.
  Snapshot unwritten = MakeSnapshot(3, 2, "never");
  EXPECT_FALSE(store_->CommitSnapshot(unwritten.meta).ok());
  EXPECT_EQ(store_->FirstIndex(), 3u);
  // A compaction point without an image: entries go, and an image is
  // asked for on demand.
  raft::SnapshotMeta point;
  point.set_index(4);
  point.set_term(2);
  ASSERT_TRUE(store_->CommitSnapshot(point).ok());
  EXPECT_EQ(store_->FirstIndex(), 5u);
  EXPECT_EQ(*store_->Term(4), 2u);
  EXPECT_FALSE(store_->ImageWanted());
  EXPECT_EQ(store_->LoadSnapshot().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store_->ImageWanted());
  // An older snapshot committed late is a no-op.
  ASSERT_TRUE(store_->CommitSnapshot(at2.meta).ok());
  EXPECT_EQ(store_->snapshot_meta().index(), 4u);
  // An image made at the same point is recorded and answers the request.
  Snapshot at4 = MakeSnapshot(4, 2, "image-4");
  ASSERT_TRUE(store_->WriteSnapshotImage(at4).ok());
  ASSERT_TRUE(store_->CommitSnapshot(at4.meta).ok());
  EXPECT_FALSE(store_->ImageWanted());
  absl::StatusOr<Snapshot> loaded = store_->LoadSnapshot();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded->data, "image-4");
}

INSTANTIATE_TEST_SUITE_P(Both, LogStoreTest, ::testing::Values(false, true),
                         [](const auto& info) {
                           return info.param ? "RaftLog" : "MemoryLogStore";
                         });

// ---- RaftLog only: what must survive close and reopen ----

TEST(RaftLogTest, EverythingSurvivesReopen) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  {
    auto log = *RaftLog::Open(path);
    EXPECT_TRUE(log->IsEmpty());
    raft::HardState hs;
    hs.set_term(3);
    hs.set_voted_for("n3");
    hs.set_commit(4);
    raft::ConfState cs;
    cs.add_voters()->set_node_id("n1");
    cs.add_learners()->set_node_id("n4");
    std::vector<raft::LogEntry> e;
    for (uint64_t i = 1; i <= 8; ++i) e.push_back(Entry(i, 3, raft::COMMAND, "x"));
    ASSERT_TRUE(log->Save(&hs, e, &cs).ok());
    Snapshot snap;
    snap.meta.set_index(5);
    snap.meta.set_term(3);
    snap.meta.set_size(4);
    snap.meta.set_checksum(SnapshotChecksum("data"));
    *snap.meta.mutable_conf_state() = cs;
    snap.data = std::make_shared<const std::string>("data");
    ASSERT_TRUE(log->SaveSnapshot(snap).ok());
  }
  auto log = *RaftLog::Open(path);
  EXPECT_FALSE(log->IsEmpty());
  EXPECT_EQ(log->hard_state().term(), 3u);
  EXPECT_EQ(log->hard_state().voted_for(), "n3");
  EXPECT_EQ(log->hard_state().commit(), 4u);
  EXPECT_EQ(log->conf_state().learners(0).node_id(), "n4");
  EXPECT_EQ(log->FirstIndex(), 6u);
  EXPECT_EQ(log->LastIndex(), 8u);
  EXPECT_EQ(*log->Term(5), 3u);
  EXPECT_EQ(log->snapshot_meta().conf_state().voters(0).node_id(), "n1");
  auto snap = log->LoadSnapshot();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(*snap->data, "data");
}

TEST(RaftLogTest, TruncationSurvivesReopen) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  {
    auto log = *RaftLog::Open(path);
    std::vector<raft::LogEntry> a = {Entry(1, 1), Entry(2, 1), Entry(3, 1)};
    ASSERT_TRUE(log->Save(nullptr, a, nullptr).ok());
    std::vector<raft::LogEntry> b = {Entry(2, 2)};
    ASSERT_TRUE(log->Save(nullptr, b, nullptr).ok());
  }
  auto log = *RaftLog::Open(path);
  EXPECT_EQ(log->LastIndex(), 2u);
  EXPECT_EQ(*log->Term(2), 2u);
}

TEST(RaftLogTest, UsesWalWithFullSync) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  auto log = *RaftLog::Open(path);
  // The journal mode is a property of the file: check it from outside.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(RaftLogTest, UnreadableTermIsDataLossNotZero) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  {
    auto log = *RaftLog::Open(path);
    raft::HardState hs;
    hs.set_term(7);
    hs.set_voted_for("n2");
    ASSERT_TRUE(log->Save(&hs, {}, nullptr).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 'seven' WHERE key = 'currentTerm'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
  // Read back as 0, the node could vote again in term 7.
  auto reopened = RaftLog::Open(path);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss) << reopened.status();
}

TEST(RaftLogTest, CorruptSnapshotIsDetected) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  {
    auto log = *RaftLog::Open(path);
    std::vector<raft::LogEntry> a = {Entry(1, 1)};
    ASSERT_TRUE(log->Save(nullptr, a, nullptr).ok());
    Snapshot snap;
    snap.meta.set_index(1);
    snap.meta.set_term(1);
    snap.meta.set_size(4);
    snap.meta.set_checksum(SnapshotChecksum("good"));
    snap.data = std::make_shared<const std::string>("good");
    ASSERT_TRUE(log->SaveSnapshot(snap).ok());
  }
  {
    std::ofstream f(dir.File("snapshots/snap-1-1.db"), std::ios::binary | std::ios::trunc);
    f << "bad!";
  }
  auto log = *RaftLog::Open(path);
  EXPECT_EQ(log->LoadSnapshot().status().code(), absl::StatusCode::kDataLoss);
}

TEST(RaftLogTest, SnapshotFileWrittenThenCommitted) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  auto log = *RaftLog::Open(path);
  std::vector<raft::LogEntry> e = {Entry(1, 1), Entry(2, 1), Entry(3, 1)};
  ASSERT_TRUE(log->Save(nullptr, e, nullptr).ok());
  Snapshot snap;
  snap.meta.set_index(2);
  snap.meta.set_term(1);
  snap.data = std::make_shared<const std::string>("image");
  snap.meta.set_size(5);
  snap.meta.set_checksum(SnapshotChecksum("image"));
  // The file alone changes nothing; a crash here leaves an orphan that the
  // next open removes.
  ASSERT_TRUE(log->WriteSnapshotImage(snap).ok());
  EXPECT_EQ(log->FirstIndex(), 1u);
  log.reset();
  log = *RaftLog::Open(path);
  EXPECT_FALSE(std::filesystem::exists(dir.File("snapshots/snap-2-1.db")));
  ASSERT_TRUE(log->WriteSnapshotImage(snap).ok());
  ASSERT_TRUE(log->CommitSnapshot(snap.meta).ok());
  EXPECT_EQ(log->FirstIndex(), 3u);
  EXPECT_EQ(*log->LoadSnapshot()->data, "image");
  // An older snapshot committed late is ignored.
  Snapshot old = snap;
  old.meta.set_index(1);
  ASSERT_TRUE(log->WriteSnapshotImage(old).ok());
  ASSERT_TRUE(log->CommitSnapshot(old.meta).ok());
  EXPECT_EQ(log->snapshot_meta().index(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir.File("snapshots/snap-1-1.db")));
  // A commit without its file is refused.
  Snapshot missing = snap;
  missing.meta.set_index(3);
  EXPECT_FALSE(log->CommitSnapshot(missing.meta).ok());
}


TEST(RaftLogTest, CompactionWithoutImageAsksForOneOnDemand) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  auto log = *RaftLog::Open(path);
  std::vector<raft::LogEntry> e = {Entry(1, 1), Entry(2, 1), Entry(3, 2), Entry(4, 2)};
  ASSERT_TRUE(log->Save(nullptr, e, nullptr).ok());
  // An image of an older point, then a compaction past it with no image.
  Snapshot old;
  old.meta.set_index(1);
  old.meta.set_term(1);
  old.data = std::make_shared<const std::string>("old");
  old.meta.set_size(3);
  old.meta.set_checksum(SnapshotChecksum("old"));
  ASSERT_TRUE(log->SaveSnapshot(old).ok());
  raft::SnapshotMeta point;
  point.set_index(3);
  point.set_term(2);
  ASSERT_FALSE(RaftLog::HasImage(point));
  ASSERT_TRUE(log->CommitSnapshot(point).ok());
  EXPECT_EQ(log->FirstIndex(), 4u);
  EXPECT_EQ(*log->Term(3), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir.File("snapshots/snap-1-1.db")))
      << "the image of an older point is of no use once the log is past it";
  EXPECT_FALSE(log->ImageWanted());
  EXPECT_EQ(log->LoadSnapshot().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(log->ImageWanted());

  // The compaction point survives a reopen; the request for an image is
  // the running node's, not the disk's.
  log.reset();
  log = *RaftLog::Open(path);
  EXPECT_EQ(log->FirstIndex(), 4u);
  EXPECT_EQ(log->snapshot_meta().index(), 3u);
  EXPECT_EQ(log->LoadSnapshot().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(log->ImageWanted());

  // An image made at the same point is recorded, and answers the request.
  Snapshot image;
  image.meta = point;
  image.data = std::make_shared<const std::string>("image-at-3");
  image.meta.set_size(image.data->size());
  image.meta.set_checksum(SnapshotChecksum(*image.data));
  ASSERT_TRUE(log->WriteSnapshotImage(image).ok());
  ASSERT_TRUE(log->CommitSnapshot(image.meta).ok());
  EXPECT_FALSE(log->ImageWanted());
  absl::StatusOr<Snapshot> loaded = log->LoadSnapshot();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded->data, "image-at-3");
  EXPECT_EQ(loaded->meta.index(), 3u);

  // A later compaction without an image does not bring back a stale one.
  point.set_index(4);
  ASSERT_TRUE(log->CommitSnapshot(point).ok());
  EXPECT_EQ(log->LoadSnapshot().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(std::filesystem::exists(dir.File("snapshots/snap-3-2.db")));
}

// Rows raft.db holds below `below` (read with SQLite directly).
int64_t RowsBelow(const std::string& path, uint64_t below) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM log WHERE idx < ?", -1, &st, nullptr) ==
        SQLITE_OK) {
      sqlite3_bind_int64(st, 1, static_cast<int64_t>(below));
      if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

// Regression: a compaction after a bulk load deleted hundreds of megabytes
// of entries in one transaction, on every follower at once, and the leader
// lost its lease. Compacted rows now go in chunks, in the transactions that
// follow; until then they are invisible, and a reopen in between is sound.
TEST(RaftLogTest, CompactedRowsArePurgedInChunksAndStayInvisibleMeanwhile) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  auto log = *RaftLog::Open(path);
  std::vector<raft::LogEntry> e = {Entry(1, 1, raft::CONFIG, "c1")};
  for (uint64_t i = 2; i <= 1000; ++i) e.push_back(Entry(i, 1, raft::COMMAND, "x"));
  ASSERT_TRUE(log->Save(nullptr, e, nullptr).ok());
  raft::SnapshotMeta point;
  point.set_index(990);
  point.set_term(1);
  ASSERT_TRUE(log->CommitSnapshot(point).ok());
  EXPECT_EQ(log->FirstIndex(), 991u);
  int64_t left = RowsBelow(path, 991);
  EXPECT_GT(left, 900) << "one transaction deleted (nearly) every compacted row";
  EXPECT_LT(left, 990) << "the compaction purged nothing itself";
  // Compacted rows are not served, and their config entry does not count.
  EXPECT_EQ(log->Term(5).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log->LastConfigEntry(1000).status().code(), absl::StatusCode::kNotFound);

  // A reopen with compacted rows still on disk finds the same log.
  log.reset();
  log = *RaftLog::Open(path);
  EXPECT_EQ(log->FirstIndex(), 991u);
  EXPECT_EQ(log->LastIndex(), 1000u);
  EXPECT_EQ(log->LastConfigEntry(1000).status().code(), absl::StatusCode::kNotFound);
  std::vector<raft::LogEntry> out;
  ASSERT_TRUE(log->Entries(991, 1001, UINT64_MAX, &out).ok());
  EXPECT_EQ(out.size(), 10u);

  // Each later transaction purges a chunk (more than it appends).
  raft::HardState hs;
  hs.set_term(1);
  int saves = 0;
  for (uint64_t i = 1001; RowsBelow(path, 991) > 0 && saves < 1000; ++i, ++saves) {
    int64_t before = RowsBelow(path, 991);
    ASSERT_TRUE(log->Save(&hs, {Entry(i, 1)}, nullptr).ok());
    EXPECT_LT(RowsBelow(path, 991), before);
  }
  EXPECT_EQ(RowsBelow(path, 991), 0);
  EXPECT_LT(saves, 100);
  EXPECT_EQ(log->FirstIndex(), 991u);

  // An installed snapshot drops what follows it now, and what it covers in
  // chunks; a reopen sees only the snapshot.
  uint64_t last = log->LastIndex();
  Snapshot s;
  s.meta.set_index(last - 2);
  s.meta.set_term(3);
  s.data = std::make_shared<const std::string>("image");
  s.meta.set_size(5);
  s.meta.set_checksum(SnapshotChecksum("image"));
  ASSERT_TRUE(log->InstallSnapshot(s).ok());
  log.reset();
  log = *RaftLog::Open(path);
  EXPECT_EQ(log->FirstIndex(), last - 1);
  EXPECT_EQ(log->LastIndex(), last - 2);
  ASSERT_TRUE(log->Save(nullptr, {Entry(last - 1, 3)}, nullptr).ok());
  EXPECT_EQ(*log->Term(last - 1), 3u);
}

// Large compacted rows (a bulk load's batches) go a few at a time: a chunk
// holds at most ~256 KiB of entry data, not 32 rows of any size, so no
// group commit pays for megabytes of deletes.
TEST(RaftLogTest, CompactedRowsArePurgedByBytesToo) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  auto log = *RaftLog::Open(path);
  std::vector<raft::LogEntry> e = {Entry(1, 1, raft::CONFIG, "c1")};
  for (uint64_t i = 2; i <= 60; ++i) e.push_back(Entry(i, 1, raft::COMMAND, std::string(100 << 10, 'b')));
  ASSERT_TRUE(log->Save(nullptr, e, nullptr).ok());
  raft::SnapshotMeta point;
  point.set_index(50);
  point.set_term(1);
  ASSERT_TRUE(log->CommitSnapshot(point).ok());
  EXPECT_GE(RowsBelow(path, 51), 47) << "the compaction itself purged more than ~256 KiB";
  raft::HardState hs;
  hs.set_term(1);
  int saves = 0;
  for (uint64_t i = 61; RowsBelow(path, 51) > 0 && saves < 100; ++i, ++saves) {
    int64_t before = RowsBelow(path, 51);
    ASSERT_TRUE(log->Save(&hs, {Entry(i, 1)}, nullptr).ok());
    int64_t purged = before - RowsBelow(path, 51);
    EXPECT_GE(purged, 1);
    EXPECT_LE(purged, 3) << "a chunk of 100 KiB rows over ~256 KiB";
  }
  EXPECT_EQ(RowsBelow(path, 51), 0);
  EXPECT_EQ(log->FirstIndex(), 51u);
  std::vector<raft::LogEntry> out;
  ASSERT_TRUE(log->Entries(51, 61, UINT64_MAX, &out).ok());
  EXPECT_EQ(out.size(), 10u);
}

// Regression: the checkpointer connection had never read the file, so
// every checkpoint was a silent no-op and the WAL grew without bound.
TEST(RaftLogTest, CheckpointCopiesTheWalIntoTheDatabaseFile) {
  ScratchDir dir;
  std::string path = dir.File("raft.db");
  auto log = *RaftLog::Open(path);
  // Below the threshold (WalCheckpointer::kDefaultMinFrames) a checkpoint
  // waits; past it, it copies. Commits themselves never checkpoint.
  std::vector<raft::LogEntry> e = {Entry(1, 1, raft::COMMAND, std::string(1000, 'x'))};
  ASSERT_TRUE(log->Save(nullptr, e, nullptr).ok());
  ASSERT_TRUE(log->CheckpointWal().ok());
  EXPECT_LT(std::filesystem::file_size(path), 8192u);
  e.clear();
  for (uint64_t i = 2; i <= 1500; ++i) {
    e.push_back(Entry(i, 1, raft::COMMAND, std::string(4000, 'x')));
  }
  ASSERT_TRUE(log->Save(nullptr, e, nullptr).ok());
  ASSERT_LT(std::filesystem::file_size(path), 100000u) << "the entries should be in the WAL only";
  ASSERT_TRUE(log->CheckpointWal().ok());
  EXPECT_GT(std::filesystem::file_size(path), 1500u * 4000u);
}

}  // namespace
}  // namespace concordance::storage
