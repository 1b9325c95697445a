#include "tests/jepsen/linearizability.h"

#include "gtest/gtest.h"

namespace concordance::jepsen {
namespace {

Operation Put(int64_t call, int64_t ret, const std::string& value, Outcome outcome, int64_t version,
              std::optional<int64_t> expected = std::nullopt) {
  Operation op;
  op.key = "k";
  op.kind = OpKind::kPut;
  op.value = value;
  op.expected_version = expected;
  op.outcome = outcome;
  op.version = version;
  op.call_ns = call;
  op.return_ns = ret;
  return op;
}

Operation Get(int64_t call, int64_t ret, Outcome outcome, const std::string& value = "", int64_t version = 0) {
  Operation op;
  op.key = "k";
  op.kind = OpKind::kGet;
  op.outcome = outcome;
  op.read_value = value;
  op.version = version;
  op.call_ns = call;
  op.return_ns = ret;
  return op;
}

Operation Delete(int64_t call, int64_t ret, Outcome outcome, std::optional<int64_t> expected = std::nullopt) {
  Operation op;
  op.key = "k";
  op.kind = OpKind::kDelete;
  op.outcome = outcome;
  op.expected_version = expected;
  op.call_ns = call;
  op.return_ns = ret;
  return op;
}

TEST(LinearizabilityTest, ASequentialHistoryIsLinearizable) {
  Verdict v = CheckLinearizable({Get(0, 1, Outcome::kNotFound), Put(2, 3, "a", Outcome::kOk, 1),
                                 Get(4, 5, Outcome::kOk, "a", 1), Put(6, 7, "b", Outcome::kOk, 2),
                                 Delete(8, 9, Outcome::kOk), Get(10, 11, Outcome::kNotFound),
                                 Put(12, 13, "c", Outcome::kOk, 1)});
  EXPECT_TRUE(v.linearizable) << v.explanation;
  EXPECT_TRUE(v.complete);
}

TEST(LinearizabilityTest, AStaleReadAfterAnAcknowledgedWriteIsNot) {
  Verdict v = CheckLinearizable(
      {Put(0, 1, "a", Outcome::kOk, 1), Put(2, 3, "b", Outcome::kOk, 2), Get(4, 5, Outcome::kOk, "a", 1)});
  EXPECT_FALSE(v.linearizable);
  EXPECT_EQ(v.key, "k");
  EXPECT_NE(v.explanation.find("get k -> ok a v1"), std::string::npos) << v.explanation;
}

TEST(LinearizabilityTest, AReadConcurrentWithAWriteMaySeeEitherValue) {
  EXPECT_TRUE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), Put(2, 10, "b", Outcome::kOk, 2),
                                 Get(3, 4, Outcome::kOk, "b", 2), Get(5, 6, Outcome::kOk, "b", 2)})
                  .linearizable);
  EXPECT_TRUE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), Put(2, 10, "b", Outcome::kOk, 2),
                                 Get(3, 4, Outcome::kOk, "a", 1)})
                  .linearizable);
  // But once a reader saw b, a later reader may not see a.
  EXPECT_FALSE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), Put(2, 10, "b", Outcome::kOk, 2),
                                  Get(3, 4, Outcome::kOk, "b", 2), Get(5, 6, Outcome::kOk, "a", 1)})
                   .linearizable);
}

TEST(LinearizabilityTest, TwoCompareAndSwapsFromOneVersionCannotBothWin) {
  std::vector<Operation> base = {Put(0, 1, "a", Outcome::kOk, 1)};
  auto both = base;
  both.push_back(Put(2, 5, "x", Outcome::kOk, 2, 1));
  both.push_back(Put(3, 6, "y", Outcome::kOk, 2, 1));
  EXPECT_FALSE(CheckLinearizable(both).linearizable);
  auto one = base;
  one.push_back(Put(2, 5, "x", Outcome::kOk, 2, 1));
  one.push_back(Put(3, 6, "y", Outcome::kConflict, 0, 1));
  one.push_back(Get(7, 8, Outcome::kOk, "x", 2));
  EXPECT_TRUE(CheckLinearizable(one).linearizable);
  // A conflict reported where the guard held is a lie.
  EXPECT_FALSE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), Put(2, 3, "y", Outcome::kConflict, 0, 1)})
                   .linearizable);
}

TEST(LinearizabilityTest, AnUnansweredWriteMayHaveHappenedOrNot) {
  Operation lost = Put(2, 0, "b", Outcome::kIndeterminate, 0);
  // Seen later: it happened.
  EXPECT_TRUE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), lost, Get(10, 11, Outcome::kOk, "b", 2)})
                  .linearizable);
  // Never seen: it did not.
  EXPECT_TRUE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), lost, Get(10, 11, Outcome::kOk, "a", 1)})
                  .linearizable);
  // A value nobody wrote is never explained.
  EXPECT_FALSE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), lost, Get(10, 11, Outcome::kOk, "c", 2)})
                   .linearizable);
  // Nor can it take effect before it was sent.
  EXPECT_FALSE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), Get(3, 4, Outcome::kOk, "b", 2),
                                  Put(5, 0, "b", Outcome::kIndeterminate, 0)})
                   .linearizable);
}

TEST(LinearizabilityTest, AnAcknowledgedWriteThatDisappearsIsCaught) {
  EXPECT_FALSE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), Get(2, 3, Outcome::kNotFound)}).linearizable);
  EXPECT_FALSE(CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), Delete(2, 3, Outcome::kNotFound)}).linearizable);
}

TEST(LinearizabilityTest, KeysAreCheckedApart) {
  Operation other = Get(2, 3, Outcome::kOk, "z", 9);
  other.key = "other";
  Verdict v = CheckLinearizable({Put(0, 1, "a", Outcome::kOk, 1), other});
  EXPECT_FALSE(v.linearizable);
  EXPECT_EQ(v.key, "other");
}

TEST(LinearizabilityTest, ManyConcurrentOperationsAreSearchedQuickly) {
  // 8 clients, 400 operations on one key, all overlapping in waves: a
  // linearizable history the memoized search must finish.
  std::vector<Operation> ops;
  int64_t version = 0;
  std::string value;
  for (int wave = 0; wave < 50; ++wave) {
    int64_t t = wave * 100;
    // One write per wave, reads around it that see the old or the new value.
    std::string next = "v" + std::to_string(wave);
    ops.push_back(Put(t, t + 50, next, Outcome::kOk, version + 1));
    for (int c = 0; c < 7; ++c) {
      bool after = c % 2 == 0;
      ops.push_back(after ? Get(t + 51 + c, t + 60 + c, Outcome::kOk, next, version + 1)
                          : (version == 0 ? Get(t + c, t + 49, Outcome::kNotFound)
                                          : Get(t + c, t + 49, Outcome::kOk, value, version)));
    }
    value = next;
    ++version;
  }
  Verdict v = CheckLinearizable(ops);
  EXPECT_TRUE(v.complete);
  EXPECT_TRUE(v.linearizable) << v.explanation;
}

}  // namespace
}  // namespace concordance::jepsen
