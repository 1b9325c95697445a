#include "storage/kv_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/test_util.h"

namespace concordance::storage {
namespace {

using testing::CommandEntry;
using testing::DeleteCommand;
using testing::Entry;
using testing::ScratchDir;
using testing::SetCommand;

constexpr char kNs[] = "tenant:acme/user:u1/preferences";

class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::move(*KvStore::Open(dir_.File("state.db"))); }

  // Applies one command as the next log entry and returns its result.
  CommandResult Run(const kv::Command& cmd) {
    std::vector<CommandResult> results;
    std::vector<raft::LogEntry> e = {CommandEntry(++index_, 1, cmd)};
    absl::Status s = store_->Apply(e, &results);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? CommandResult{} : results[0];
  }

  kv::Command Set(const std::string& key, const std::string& value, int64_t t = 1000) {
    return SetCommand(kNs, key, value, t);
  }

  ScratchDir dir_;
  std::unique_ptr<KvStore> store_;
  uint64_t index_ = 0;
};

TEST_F(KvStoreTest, SetThenGetWithIncreasingVersions) {
  CommandResult r1 = Run(Set("theme", "\"dark\"", 1000));
  ASSERT_TRUE(r1.status.ok());
  ASSERT_EQ(r1.changes.size(), 1u);
  EXPECT_EQ(r1.changes[0].version(), 1);
  EXPECT_EQ(r1.changes[0].seq(), 1);
  EXPECT_EQ(r1.changes[0].tenant_id(), "acme");
  CommandResult r2 = Run(SetCommand(kNs, "theme", "\"light\"", 2000, "user:u1"));
  EXPECT_EQ(r2.changes[0].version(), 2);
  EXPECT_EQ(r2.changes[0].seq(), 2);
  auto e = store_->Get(kNs, "theme", 2500);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value(), "\"light\"");
  EXPECT_EQ(e->version(), 2);
  EXPECT_EQ(e->updated_by(), "user:u1");
  EXPECT_EQ(e->updated_at(), 2000);
  EXPECT_EQ(e->expires_at(), 0);
  EXPECT_EQ(store_->AppliedIndex(), 2u);
  EXPECT_EQ(store_->Get(kNs, "nope", 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KvStoreTest, CompareAndSwap) {
  kv::Command create = Set("k", "1");
  create.mutable_set()->set_expected_version(0);
  EXPECT_TRUE(Run(create).status.ok());
  CommandResult again = Run(create);  // create-only on an existing key
  EXPECT_EQ(again.status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(std::string(*again.status.GetPayload(kCurrentVersionPayload)), "1");
  EXPECT_TRUE(again.changes.empty());
  kv::Command update = Set("k", "2");
  update.mutable_set()->set_expected_version(1);
  EXPECT_TRUE(Run(update).status.ok());
  EXPECT_EQ(Run(update).status.code(), absl::StatusCode::kAborted);
  kv::Command del = DeleteCommand(kNs, "k", 3000);
  del.mutable_delete_()->set_expected_version(1);
  EXPECT_EQ(Run(del).status.code(), absl::StatusCode::kAborted);
  del.mutable_delete_()->set_expected_version(2);
  EXPECT_TRUE(Run(del).status.ok());
  EXPECT_EQ(*store_->LastSeq(), 3);  // failed commands wrote no changelog rows
}

TEST_F(KvStoreTest, DeleteAndRewriteRestartsVersion) {
  Run(Set("k", "1"));
  Run(Set("k", "2"));
  CommandResult d = Run(DeleteCommand(kNs, "k", 3000));
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(d.changes[0].op(), "delete");
  EXPECT_EQ(d.changes[0].version(), 2);
  EXPECT_EQ(Run(DeleteCommand(kNs, "k", 3000)).status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Run(Set("k", "3")).changes[0].version(), 1);
}

TEST_F(KvStoreTest, BatchIsAllOrNothing) {
  Run(Set("a", "1"));
  kv::Command batch;
  batch.set_timestamp_ms(5000);
  batch.set_actor("api");
  auto* s1 = batch.mutable_batch()->add_ops()->mutable_set();
  s1->set_namespace_(kNs);
  s1->set_key("b");
  s1->set_value("2");
  auto* s2 = batch.mutable_batch()->add_ops()->mutable_set();
  s2->set_namespace_(kNs);
  s2->set_key("a");
  s2->set_value("3");
  s2->set_expected_version(7);  // wrong
  CommandResult r = Run(batch);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(std::string(*r.status.GetPayload(kOpIndexPayload)), "1");
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(store_->Get(kNs, "b", 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(kNs, "a", 0)->value(), "1");
  // Fixed, the same batch applies both ops with one changelog row each.
  s2->set_expected_version(1);
  r = Run(batch);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.changes.size(), 2u);
  EXPECT_EQ(r.changes[0].key(), "b");
  EXPECT_EQ(r.changes[1].key(), "a");
  EXPECT_EQ(r.changes[1].seq(), r.changes[0].seq() + 1);
  // The applied index advanced for the failed batch too: it was committed.
  EXPECT_EQ(store_->AppliedIndex(), 3u);
}

TEST_F(KvStoreTest, ExpiredEntriesAreHidden) {
  kv::Command c = Set("session", "{}", 1000);
  c.mutable_set()->set_expires_at(1200);
  Run(c);
  EXPECT_TRUE(store_->Get(kNs, "session", 1199).ok());
  EXPECT_EQ(store_->Get(kNs, "session", 1200).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->List(kNs, "", "", 10, 1200)->entries.size(), 0u);
  EXPECT_EQ(store_->List(kNs, "", "", 10, 1100)->entries.size(), 1u);
  auto due = store_->DueExpirations(1200, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].version(), 1);
  EXPECT_EQ(**store_->NextExpiry(), 1200);
}

TEST_F(KvStoreTest, ExpireRemovesOnlyTheVersionSeen) {
  kv::Command c = Set("s", "1", 1000);
  c.mutable_set()->set_expires_at(1500);
  Run(c);
  kv::Command expire;
  expire.set_timestamp_ms(1600);
  expire.set_actor("system:ttl");
  auto* op = expire.mutable_expire()->add_ops();
  op->set_namespace_(kNs);
  op->set_key("s");
  op->set_version(1);
  // Rewritten before the expire commits (at t=1400, with no TTL): survives.
  Run(Set("s", "2", 1400));
  CommandResult r = Run(expire);
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(store_->Get(kNs, "s", 9999)->value(), "2");
}

TEST_F(KvStoreTest, ExpireRecordsOneEvent) {
  kv::Command c = Set("s", "1", 1000);
  c.mutable_set()->set_expires_at(1500);
  Run(c);
  kv::Command expire;
  expire.set_timestamp_ms(1600);
  expire.set_actor("system:ttl");
  auto* op = expire.mutable_expire()->add_ops();
  op->set_namespace_(kNs);
  op->set_key("s");
  op->set_version(1);
  CommandResult r = Run(expire);
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(r.changes[0].op(), "expire");
  EXPECT_TRUE(Run(expire).changes.empty());  // a duplicate does nothing
}

TEST_F(KvStoreTest, WriteOverDueEntryExpiresItFirst) {
  kv::Command c = Set("s", "1", 1000);
  c.mutable_set()->set_expires_at(1500);
  Run(c);
  CommandResult r = Run(Set("s", "2", 2000));
  ASSERT_EQ(r.changes.size(), 2u);
  EXPECT_EQ(r.changes[0].op(), "expire");
  EXPECT_EQ(r.changes[1].op(), "set");
  EXPECT_EQ(r.changes[1].version(), 1);
}

TEST_F(KvStoreTest, ListWithPrefixAfterAndLimit) {
  for (const char* k : {"a1", "a2", "a3", "b1", "b2"}) Run(Set(k, "0"));
  Run(SetCommand("tenant:acme/other", "a0", "0", 1));
  auto all = store_->List(kNs, "", "", 100, 0);
  ASSERT_EQ(all->entries.size(), 5u);
  EXPECT_FALSE(all->next.has_value());
  auto a = store_->List(kNs, "a", "", 2, 0);
  ASSERT_EQ(a->entries.size(), 2u);
  EXPECT_EQ(a->entries[1].key(), "a2");
  ASSERT_TRUE(a->next.has_value());
  auto a_rest = store_->List(kNs, "a", *a->next, 2, 0);
  ASSERT_EQ(a_rest->entries.size(), 1u);
  EXPECT_EQ(a_rest->entries[0].key(), "a3");
  EXPECT_FALSE(a_rest->next.has_value());
  EXPECT_EQ(store_->List(kNs, "c", "", 10, 0)->entries.size(), 0u);
}

TEST_F(KvStoreTest, ChangesByTenantAndNamespace) {
  Run(Set("a", "1"));
  Run(SetCommand("tenant:other/settings", "x", "1", 1));
  Run(SetCommand("tenant:acme/settings", "flag", "true", 1));
  Run(Set("a", "2"));
  auto acme = store_->ChangesSince(0, {"acme", ""}, 100);
  ASSERT_TRUE(acme.ok());
  ASSERT_EQ(acme->changes.size(), 3u);
  for (size_t i = 1; i < acme->changes.size(); ++i) {
    EXPECT_GT(acme->changes[i].seq(), acme->changes[i - 1].seq());
    EXPECT_EQ(acme->changes[i].tenant_id(), "acme");
  }
  EXPECT_EQ(acme->next_seq, 4);
  auto ns = store_->ChangesSince(1, {"acme", kNs}, 100);
  ASSERT_EQ(ns->changes.size(), 1u);
  EXPECT_EQ(ns->changes[0].seq(), 4);
  auto paged = store_->ChangesSince(0, {"acme", ""}, 2);
  EXPECT_EQ(paged->changes.size(), 2u);
  EXPECT_EQ(paged->next_seq, 3);
  EXPECT_EQ(store_->ChangesSince(0, {"nobody", ""}, 10)->changes.size(), 0u);
}

TEST_F(KvStoreTest, RetentionTrimsAndReportsCompacted) {
  for (int i = 0; i < 10; ++i) Run(Set("k", absl::StrCat(i)));
  kv::Command trim;
  trim.set_timestamp_ms(1);
  trim.set_actor("system");
  trim.mutable_trim_changelog()->set_keep(3);
  Run(trim);
  EXPECT_EQ(*store_->ChangelogSize(), 3);
  EXPECT_EQ(*store_->OldestSeq(), 8);
  EXPECT_TRUE(store_->ChangesSince(7, {"acme", ""}, 10).ok());
  auto gone = store_->ChangesSince(6, {"acme", ""}, 10);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(std::string(*gone.status().GetPayload(kOldestSeqPayload)), "8");
  // seq keeps rising after a trim (AUTOINCREMENT never reuses).
  EXPECT_EQ(Run(Set("k", "x")).changes[0].seq(), 11);
}

TEST_F(KvStoreTest, ReplayedEntriesAreSkipped) {
  std::vector<raft::LogEntry> e = {CommandEntry(1, 1, Set("k", "1")),
                                   CommandEntry(2, 1, Set("k", "2"))};
  std::vector<CommandResult> results;
  ASSERT_TRUE(store_->Apply(e, &results).ok());
  results.clear();
  ASSERT_TRUE(store_->Apply(e, &results).ok());
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(store_->Get(kNs, "k", 0)->version(), 2);
}

TEST_F(KvStoreTest, NoopAndConfigEntriesAdvanceAppliedIndex) {
  std::vector<raft::LogEntry> e = {Entry(1, 1, raft::CONFIG, "c"), Entry(2, 2, raft::NOOP)};
  std::vector<CommandResult> results;
  ASSERT_TRUE(store_->Apply(e, &results).ok());
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(store_->AppliedIndex(), 2u);
  EXPECT_EQ(store_->AppliedTerm(), 2u);
}

TEST_F(KvStoreTest, AGapAfterTheAppliedIndexIsRefusedAndNothingApplies) {
  std::vector<raft::LogEntry> e = {CommandEntry(2, 1, Set("k", "1"))};  // index 1 missing
  std::vector<CommandResult> results;
  absl::Status s = store_->Apply(e, &results);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(store_->AppliedIndex(), 0u);
  EXPECT_FALSE(store_->Get(kNs, "k", 0).ok());
}

TEST_F(KvStoreTest, UndecodableCommandFailsAlone) {
  std::vector<raft::LogEntry> e = {Entry(1, 1, raft::COMMAND, "\xff\xff\xff"),
                                   CommandEntry(2, 1, Set("k", "1"))};
  std::vector<CommandResult> results;
  ASSERT_TRUE(store_->Apply(e, &results).ok());
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(results[1].status.ok());
}

TEST_F(KvStoreTest, AppliedIndexSurvivesReopen) {
  Run(Set("k", "1"));
  Run(Set("k", "2"));
  store_.reset();
  store_ = std::move(*KvStore::Open(dir_.File("state.db")));
  EXPECT_EQ(store_->AppliedIndex(), 2u);
  EXPECT_EQ(store_->Get(kNs, "k", 0)->version(), 2);
}

TEST_F(KvStoreTest, SerializeRestoreGivesEqualHash) {
  for (int i = 0; i < 50; ++i) Run(Set(absl::StrCat("k", i % 7), absl::StrCat(i)));
  std::string before = *store_->ContentHash();
  auto image = store_->Serialize();
  ASSERT_TRUE(image.ok()) << image.status();
  ScratchDir other;
  auto copy = std::move(*KvStore::Open(other.File("state.db")));
  // The target already holds different data: Restore replaces all of it.
  std::vector<CommandResult> ignored;
  std::vector<raft::LogEntry> e = {CommandEntry(1, 1, Set("junk", "1"))};
  ASSERT_TRUE(copy->Apply(e, &ignored).ok());
  ASSERT_TRUE(copy->Restore(*image).ok());
  EXPECT_EQ(*copy->ContentHash(), before);
  EXPECT_EQ(copy->AppliedIndex(), 50u);
  EXPECT_EQ(copy->Get(kNs, "junk", 0).status().code(), absl::StatusCode::kNotFound);
  // The restored file is a normal WAL database that survives reopen, and
  // applying more continues the same seq sequence.
  copy.reset();
  copy = std::move(*KvStore::Open(other.File("state.db")));
  EXPECT_EQ(*copy->ContentHash(), before);
  std::vector<raft::LogEntry> next = {CommandEntry(51, 1, Set("k0", "x"))};
  ignored.clear();
  ASSERT_TRUE(copy->Apply(next, &ignored).ok());
  EXPECT_EQ(ignored[0].changes[0].seq(), 51);
}

TEST_F(KvStoreTest, PinnedViewSerializesTheStateAsOfThePin) {
  for (int i = 0; i < 10; ++i) Run(Set("k", absl::StrCat(i)));
  std::string hash_at_pin = *store_->ContentHash();
  auto pinned = store_->Pin();
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ((*pinned)->applied_index(), 10u);
  // The store moves on while the pin holds.
  for (int i = 0; i < 10; ++i) Run(Set("other", absl::StrCat(i)));
  auto image = (*pinned)->Serialize();
  ASSERT_TRUE(image.ok());
  pinned->reset();
  ScratchDir other;
  auto copy = std::move(*KvStore::Open(other.File("state.db")));
  ASSERT_TRUE(copy->Restore(*image).ok());
  EXPECT_EQ(copy->AppliedIndex(), 10u);
  EXPECT_EQ(*copy->ContentHash(), hash_at_pin);
  EXPECT_EQ(copy->Get(kNs, "other", 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KvStoreTest, RestoreRejectsGarbageAndKeepsData) {
  Run(Set("k", "1"));
  std::string before = *store_->ContentHash();
  EXPECT_FALSE(store_->Restore("not a database").ok());
  std::string other_db(4096, '\0');
  memcpy(other_db.data(), "SQLite format 3", 16);
  EXPECT_FALSE(store_->Restore(other_db).ok());
  EXPECT_EQ(*store_->ContentHash(), before);
}

// Two replicas fed the same log hold the same seqs and the same bytes.
// Found by snapshot_image_fuzzer: an image whose header names another text
// encoding passed validation, then failed the restore ("attached databases
// must use the same text encoding") — on a follower, after raft.db had
// recorded the install, so the node stopped and could not start again.
// Validation now refuses it, and Restore refuses it before touching ours.
TEST_F(KvStoreTest, AnImageInAnotherTextEncodingIsRefusedBeforeAnythingChanges) {
  ASSERT_TRUE(Run(Set("a", "1")).status.ok());
  absl::StatusOr<std::string> image = store_->Serialize();
  ASSERT_TRUE(image.ok());
  for (char encoding : {'\x02', '\x03', '\x10'}) {  // UTF-16le, UTF-16be, nonsense
    std::string other = *image;
    other[59] = encoding;  // the header's text encoding (big-endian at offset 56)
    EXPECT_FALSE(KvStore::ValidateImage(other, store_->AppliedIndex(), store_->AppliedTerm()).ok())
        << static_cast<int>(encoding);
    EXPECT_FALSE(store_->Restore(other).ok()) << static_cast<int>(encoding);
    absl::StatusOr<std::string> still = store_->Serialize();
    ASSERT_TRUE(still.ok()) << still.status();
    EXPECT_TRUE(KvStore::ValidateImage(*still, store_->AppliedIndex(), store_->AppliedTerm()).ok());
  }
}

TEST_F(KvStoreTest, ValidateImageChecksTheWholeImageAndItsIndex) {
  ASSERT_TRUE(Run(Set("a", "1")).status.ok());
  ASSERT_TRUE(Run(Set("b", "2")).status.ok());
  absl::StatusOr<std::string> image = store_->Serialize();
  ASSERT_TRUE(image.ok());
  EXPECT_TRUE(KvStore::ValidateImage(*image, store_->AppliedIndex(), store_->AppliedTerm()).ok());
  EXPECT_FALSE(KvStore::ValidateImage(*image, store_->AppliedIndex() + 1, store_->AppliedTerm()).ok());
  EXPECT_FALSE(KvStore::ValidateImage(*image, store_->AppliedIndex(), store_->AppliedTerm() + 1).ok());
  EXPECT_FALSE(KvStore::ValidateImage("not a database at all", 2, 1).ok());
  std::string damaged = *image;
  for (size_t i = 4096; i < damaged.size(); i += 97) damaged[i] = static_cast<char>(~damaged[i]);
  EXPECT_FALSE(KvStore::ValidateImage(damaged, store_->AppliedIndex(), store_->AppliedTerm()).ok());
  // Another SQLite database is not a state.db.
  auto other = KvStore::Open(dir_.File("other.db"));
  ASSERT_TRUE(other.ok());
  absl::StatusOr<std::string> empty_state = (*other)->Serialize();
  ASSERT_TRUE(empty_state.ok());
  EXPECT_FALSE(KvStore::ValidateImage(*empty_state, 2, 1).ok());  // applied 0, not 2
}

TEST_F(KvStoreTest, PagesStopAtTheByteBound) {
  std::string big = "\"" + std::string(1000, 'x') + "\"";
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Run(Set("k" + std::to_string(i), big)).status.ok());
  absl::StatusOr<ListResult> list = store_->List(kNs, "", "", 100, 0, 2500);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->entries.size(), 3u);  // the row that crosses the bound is the last
  ASSERT_TRUE(list->next.has_value());
  EXPECT_EQ(*list->next, "k2");
  ChangeFilter filter;
  filter.tenant_id = "acme";
  absl::StatusOr<ChangesResult> changes = store_->ChangesSince(0, filter, 100, 2500);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->changes.size(), 3u);
  EXPECT_TRUE(changes->more);
  EXPECT_EQ(changes->next_seq, 3);
  absl::StatusOr<ChangesResult> rest = store_->ChangesSince(3, filter, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->changes.size(), 7u);
  EXPECT_FALSE(rest->more);
}

TEST(KvStoreDeterminismTest, SameCommandsSameState) {
  ScratchDir a_dir, b_dir;
  auto a = std::move(*KvStore::Open(a_dir.File("state.db")));
  auto b = std::move(*KvStore::Open(b_dir.File("state.db")));
  std::mt19937 rng(42);
  std::vector<raft::LogEntry> log;
  for (uint64_t i = 1; i <= 300; ++i) {
    std::string key = absl::StrCat("k", rng() % 20);
    std::string ns = rng() % 2 ? kNs : "tenant:beta/settings";
    kv::Command c = rng() % 4 == 0 ? DeleteCommand(ns, key, i * 10)
                                   : SetCommand(ns, key, absl::StrCat(rng()), i * 10);
    if (rng() % 5 == 0 && c.has_set()) c.mutable_set()->set_expires_at(i * 10 + 50);
    log.push_back(CommandEntry(i, 1, c));
  }
  std::vector<CommandResult> ra, rb;
  // Different batch boundaries on each replica.
  for (size_t i = 0; i < log.size(); i += 7) {
    std::vector<raft::LogEntry> chunk(log.begin() + i, log.begin() + std::min(i + 7, log.size()));
    ASSERT_TRUE(a->Apply(chunk, &ra).ok());
  }
  for (size_t i = 0; i < log.size(); i += 50) {
    std::vector<raft::LogEntry> chunk(log.begin() + i, log.begin() + std::min(i + 50, log.size()));
    ASSERT_TRUE(b->Apply(chunk, &rb).ok());
  }
  ASSERT_EQ(ra.size(), rb.size());
  int64_t last_seq = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    ASSERT_EQ(ra[i].changes.size(), rb[i].changes.size());
    for (size_t j = 0; j < ra[i].changes.size(); ++j) {
      EXPECT_EQ(ra[i].changes[j].seq(), rb[i].changes[j].seq());
      EXPECT_GT(ra[i].changes[j].seq(), last_seq);  // strictly increasing
      last_seq = ra[i].changes[j].seq();
    }
  }
  EXPECT_EQ(*a->ContentHash(), *b->ContentHash());
  EXPECT_EQ(*a->LastSeq(), last_seq);
}

// A child process applies batches as fast as it can and is SIGKILLed at a
// random moment, several times over. After each kill the reopened store's
// applied_index must agree exactly with its data: entry i sets "counter" to
// i and writes changelog seq i.
TEST(KvStoreCrashTest, KillMidApplyNeverSplitsDataFromAppliedIndex) {
  ScratchDir dir;
  std::string path = dir.File("state.db");
  std::mt19937 rng(7);
  uint64_t previous = 0;
  for (int round = 0; round < 6; ++round) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(ready[0]);
      auto store = KvStore::Open(path);
      if (!store.ok()) _exit(2);
      uint64_t i = (*store)->AppliedIndex();
      bool signalled = false;
      while (true) {
        std::vector<raft::LogEntry> batch;
        for (int k = 0; k < 20; ++k) {
          ++i;
          batch.push_back(CommandEntry(i, 1, SetCommand(kNs, "counter", absl::StrCat(i), i)));
        }
        std::vector<CommandResult> results;
        if (!(*store)->Apply(batch, &results).ok()) _exit(3);
        if (!signalled) {
          char c = 1;
          if (write(ready[1], &c, 1) != 1) _exit(4);
          signalled = true;
        }
      }
    }
    close(ready[1]);
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);  // the child has applied something
    close(ready[0]);
    usleep(1000 + rng() % 20000);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

    auto store = std::move(*KvStore::Open(path));
    uint64_t applied = store->AppliedIndex();
    EXPECT_GT(applied, previous) << "round " << round;
    EXPECT_EQ(applied % 20, 0u) << "a batch was split";
    auto counter = store->Get(kNs, "counter", 0);
    ASSERT_TRUE(counter.ok());
    EXPECT_EQ(counter->value(), absl::StrCat(applied));
    EXPECT_EQ(counter->version(), static_cast<int64_t>(applied));
    EXPECT_EQ(*store->LastSeq(), static_cast<int64_t>(applied));
    previous = applied;
  }
}


TEST_F(KvStoreTest, CheckpointCopiesTheWalIntoTheDatabaseFile) {
  std::string big = "\"" + std::string(4000, 'v') + "\"";
  for (int i = 0; i < 600; ++i) Run(Set("k" + std::to_string(i), big));
  std::string path = dir_.File("state.db");
  ASSERT_LT(std::filesystem::file_size(path), 100000u) << "the rows should be in the WAL only";
  ASSERT_TRUE(store_->CheckpointWal().ok());
  EXPECT_GT(std::filesystem::file_size(path), 600u * 4000u);
  ASSERT_TRUE(store_->SyncToDisk().ok());
}

// Regression: under a steady stream of commits the WAL never restarted
// (a commit that began before each passive checkpoint ended appended after
// it) and grew for as long as the writes went on (310 MB after 8 s of
// single-key writes on one node).
TEST_F(KvStoreTest, UnderSteadyCommitsTheWalStaysBounded) {
  std::string big = "\"" + std::string(4000, 'v') + "\"";
  std::string wal = dir_.File("state.db-wal");
  constexpr uint64_t kFrame = 4096 + 24;  // a page and its frame header
  const uint64_t bound = 2 * uint64_t{WalCheckpointer::kRestartFrames} * kFrame;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < 8000; ++i) {
      Run(Set("k" + std::to_string(i % 2000), big));
      usleep(100);  // the gap between two commits
    }
    writing = false;
  });
  uint64_t largest = 0;
  while (writing) {  // the node's checkpoint thread, at a faster cadence
    EXPECT_TRUE(store_->CheckpointWal().ok());
    largest = std::max<uint64_t>(largest, std::filesystem::file_size(wal));
    usleep(20000);
  }
  writer.join();
  EXPECT_LT(largest, bound) << "the WAL grew with the writes";
  EXPECT_EQ(store_->Get(kNs, "k1", 0)->value(), big);
  EXPECT_EQ(store_->Get(kNs, "k1999", 0)->version(), 4);
}

}  // namespace
}  // namespace concordance::storage
