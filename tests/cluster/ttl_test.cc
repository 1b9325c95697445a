// TTL across a cluster: expiry is decided by the leader, replicated as an
// `expire` command, and seen once by every watcher on every node.
#include <chrono>

#include "gtest/gtest.h"
#include "tests/lib/cluster.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits until `key` is gone on every node; returns the worst lateness past
// `due` in ms (or -1 if some node still has it after due + 1 s).
int64_t GoneEverywhere(TestCluster& c, const std::string& key, int64_t due) {
  int64_t worst = 0;
  for (int i = 0; i < c.size(); ++i) {
    bool gone = WaitFor(
        [&] {
          return c.node(i).http().Request("GET", key, "", c.Auth()).status == 404;
        },
        std::chrono::milliseconds(std::max<int64_t>(0, due + 1000 - NowMs())));
    if (!gone) return -1;
    worst = std::max(worst, NowMs() - due);
  }
  return worst;
}

TEST(TtlTest, ExpiresOnEveryNodeOnceForEverySubscriber) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  std::vector<std::unique_ptr<WsClient>> watchers;
  for (int i = 0; i < 3; ++i) {
    watchers.push_back(std::make_unique<WsClient>());
    ASSERT_TRUE(watchers[i]->Connect("127.0.0.1", c.node(i).port(), "/stream", c.Auth()));
    ASSERT_TRUE(Call(*watchers[i], 1, "watch/subscribe", "{\"namespace\":\"tenant:ttl/sessions\"}").HasMember("result"));
  }
  const std::string key = "/api/v1/kv/tenant:ttl/sessions/s1";
  HttpResult w = c.Request(leader, "PUT", key, "{\"value\":{\"user\":\"u1\"},\"ttlMs\":200}");
  ASSERT_EQ(w.status, 200) << w.body;
  int64_t due = JsonInt(ParseJson(w.body), "expiresAt");
  int64_t late = GoneEverywhere(c, key, due);
  ASSERT_GE(late, 0) << "still readable on some node 1 s after its due time";
  printf("200 ms TTL: gone on all 3 nodes at most %lld ms after its due time\n",
         static_cast<long long>(late));
  // Every subscriber, on every node: one set, then exactly one expire.
  for (int i = 0; i < 3; ++i) {
    int sets = 0, expires = 0;
    while (auto m = watchers[i]->Receive(std::chrono::milliseconds(expires ? 300 : 2000))) {
      std::string op = JsonString(ParseJson(*m)["params"], "op");
      sets += op == "set";
      expires += op == "expire";
    }
    EXPECT_EQ(sets, 1) << c.id(i);
    EXPECT_EQ(expires, 1) << c.id(i);
  }
  std::string detail;
  EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(10), &detail)) << detail;
}

TEST(TtlTest, LeaderChangeNeitherResetsNorExtendsTheTtl) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  const std::string key = "/api/v1/kv/tenant:ttl/sessions/s2";
  HttpResult w = c.Request(leader, "PUT", key, "{\"value\":1,\"ttlMs\":1500}");
  ASSERT_EQ(w.status, 200);
  int64_t due = JsonInt(ParseJson(w.body), "expiresAt");
  ASSERT_EQ(c.Request(leader, "POST", "/api/v1/cluster/transfer-leadership", "{}").status, 200);
  int next = c.WaitLeader();
  ASSERT_GE(next, 0);
  EXPECT_NE(next, leader);
  // Still there before its due time, gone (by the new leader) soon after it.
  EXPECT_EQ(c.node(next).http().Request("GET", key, "", c.Auth()).status, 200);
  int64_t late = GoneEverywhere(c, key, due);
  EXPECT_GE(late, 0) << "the new leader did not expire it within 1 s of the original due time";
  // Reads hide a key once its due time passes; the replicated `expire` entry
  // follows within one expirer pass, so wait for it in the changelog.
  rapidjson::Document changes;
  bool logged = WaitFor(
      [&] {
        changes = ParseJson(c.Request(next, "GET", "/api/v1/changes?namespace=tenant:ttl/sessions&since=0").body);
        return changes.HasMember("changes") && changes["changes"].Size() >= 2;
      },
      std::chrono::seconds(2));
  ASSERT_TRUE(logged) << "no expire entry in the changelog 2 s after the key disappeared";
  ASSERT_EQ(changes["changes"].Size(), 2u);
  EXPECT_EQ(JsonString(changes["changes"][1], "op"), "expire");
  EXPECT_GE(JsonInt(changes["changes"][1], "timestamp"), due);
}

// libfaketime for one node: its wall clock `offset` ahead (or behind), its
// monotonic clock (timers, elections) untouched.
std::vector<std::string> SkewedClock(const std::string& offset) {
  return {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "FAKETIME=" + offset,
          "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_NO_CACHE=1"};
}

bool Lead(TestCluster& c, int target) {
  int leader = c.WaitLeader();
  if (leader == target) return true;
  if (leader < 0) return false;
  HttpResult r = c.node(leader).http().Request("POST", "/api/v1/cluster/transfer-leadership",
                                               "{\"nodeId\":\"" + c.id(target) + "\"}", c.Auth());
  return r.status == 200 && c.WaitLeader() == target;
}

// The leader's clock decides (docs/api.md, "TTL"): a follower whose clock
// is two minutes fast answers reads as the leader would, not by its own
// clock; the leader that stamps expiresAt stamps it by its clock; and when
// leadership moves, the new leader's clock decides when entries are due.
TEST(TtlTest, UnderClockSkewTheLeadersClockDecides) {
  TestCluster c;
  const int kFast = 2;  // node3 runs 120 s ahead
  c.set_per_node_env([](const std::string& id) {
    return id == "node3" ? SkewedClock("+120s") : std::vector<std::string>{};
  });
  ASSERT_TRUE(c.Start(3));
  ASSERT_TRUE(Lead(c, 0));

  // A fast follower still shows an entry the leader has not expired.
  const std::string a = "/api/v1/kv/tenant:skew/s/a";
  ASSERT_EQ(c.Request(0, "PUT", a, "{\"value\":1,\"ttlMs\":3000}").status, 200);
  int64_t due = NowMs() + 3000;
  HttpResult seen = c.node(kFast).http().Request("GET", a + "?consistency=linearizable", "", c.Auth());
  EXPECT_EQ(seen.status, 200) << "the fast follower hid a live entry by its own clock: " << seen.body;
  seen = c.node(kFast).http().Request("GET", a, "", c.Auth());
  EXPECT_EQ(seen.status, 200) << seen.body;
  // It expires once, by the leader's clock, everywhere.
  EXPECT_GE(GoneEverywhere(c, a, due), 0);

  // The fast node leads: it stamps expiresAt by its clock, 120 s ahead.
  ASSERT_TRUE(Lead(c, kFast));
  const std::string b = "/api/v1/kv/tenant:skew/s/b";
  HttpResult put = c.Request(kFast, "PUT", b, "{\"value\":2,\"ttlMs\":60000}");
  ASSERT_EQ(put.status, 200) << put.body;
  int64_t expires_at = JsonInt(ParseJson(put.body), "expiresAt");
  EXPECT_GT(expires_at, NowMs() + 60000 + 100000) << "stamped by the fast leader's clock";
  // An entry due in 60 s by the true time is already past due by the fast
  // leader's clock: it expires as soon as leadership moves there.
  ASSERT_TRUE(Lead(c, 0));
  const std::string d = "/api/v1/kv/tenant:skew/s/d";
  ASSERT_EQ(c.Request(0, "PUT", d, "{\"value\":3,\"ttlMs\":60000}").status, 200);
  for (int i = 0; i < 3; ++i) {
    // Linearizable: a local read on a follower may come before it applied d.
    EXPECT_EQ(c.node(i).http().Request("GET", d + "?consistency=linearizable", "", c.Auth()).status,
              200)
        << "node " << i;
  }
  ASSERT_TRUE(Lead(c, kFast));
  EXPECT_GE(GoneEverywhere(c, d, NowMs()), 0) << "the fast leader expires it at once";
  // b, stamped 120 s ahead, is due 180 s from now by the true time: an
  // unskewed leader would keep it that long (the price of a fast leader).
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.node(i).http().Request("GET", b, "", c.Auth()).status, 200) << "node " << i;
  }
  std::string detail;
  EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
}

}  // namespace
}  // namespace concordance::testing
