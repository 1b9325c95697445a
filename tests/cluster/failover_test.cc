// Failures of seed 003's table, with real processes: the leader killed,
// and two of three nodes down.
#include <signal.h>

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "tests/lib/cluster.h"

namespace concordance::testing {
namespace {

TEST(FailoverTest, LeaderKilledNewLeaderWithinThreeSecondsAndOldOneRejoins) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(c.Request(leader, "PUT", "/api/v1/kv/tenant:f/s/k" + std::to_string(i), "{\"value\":1}").status, 200);
  }
  auto killed_at = std::chrono::steady_clock::now();
  c.node(leader).Kill();
  int survivor = (leader + 1) % 3;
  int next = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = c.Status(survivor);
        std::string l = s.HasMember("leader") && s["leader"].IsObject() ? JsonString(s["leader"], "nodeId") : "";
        if (l.empty() || l == c.id(leader)) return false;
        for (int i = 0; i < 3; ++i) {
          if (c.id(i) == l) next = i;
        }
        return JsonString(c.Status(next), "role") == "leader";
      },
      std::chrono::seconds(3)))
      << "no new leader within 3 s of kill -9";
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  printf("new leader %s elected %.3f s after kill -9 of %s\n", c.id(next).c_str(), secs, c.id(leader).c_str());
  // Writes continue on the new leader.
  for (int i = 20; i < 40; ++i) {
    ASSERT_EQ(c.Request(next, "PUT", "/api/v1/kv/tenant:f/s/k" + std::to_string(i), "{\"value\":2}").status, 200);
  }
  // The old leader restarts with its data dir, rejoins without --join help
  // (it is still a member), catches up, and every node ends identical.
  ASSERT_TRUE(c.Restart(leader));
  std::string detail;
  EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
  auto list = ParseJson(c.node(leader).http().Request("GET", "/api/v1/kv/tenant:f/s/?limit=100", "", c.Auth()).body);
  EXPECT_EQ(list["entries"].Size(), 40u);
}

TEST(FailoverTest, TwoOfThreeDownWritesFailReadsContinueThenRecoverWithoutLoss) {
  TestCluster c({"--proposal-timeout-ms=2000"});
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  std::vector<std::string> acked;
  for (int i = 0; i < 10; ++i) {
    std::string k = "a" + std::to_string(i);
    if (c.Request(leader, "PUT", "/api/v1/kv/tenant:q/s/" + k, "{\"value\":1}").status == 200) acked.push_back(k);
  }
  ASSERT_EQ(acked.size(), 10u);
  int survivor = leader;
  int a = (leader + 1) % 3, b = (leader + 2) % 3;
  c.node(a).Kill();
  c.node(b).Kill();
  // Writes answer 503 within the proposal timeout (2 s here) — or as soon as
  // the lone node notices it lost its quorum and stops leading.
  auto start = std::chrono::steady_clock::now();
  HttpResult w = c.node(survivor).http().Request("PUT", "/api/v1/kv/tenant:q/s/lost", "{\"value\":1}",
                                                 c.Auth(), std::chrono::seconds(10));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(w.status, 503) << w.body;
  EXPECT_LE(secs, 3.5) << "the write waited well past the proposal timeout";
  auto err = ParseJson(w.body);
  EXPECT_TRUE(err["error"]["retryable"].GetBool());
  printf("write without quorum answered %d after %.3f s: %s\n", w.status, secs, w.body.c_str());
  // Local reads on the survivor continue.
  for (const std::string& k : acked) {
    EXPECT_EQ(c.node(survivor).http().Request("GET", "/api/v1/kv/tenant:q/s/" + k, "", c.Auth()).status, 200);
  }
  // ...but a linearizable read cannot be confirmed.
  EXPECT_EQ(c.node(survivor)
                .http()
                .Request("GET", "/api/v1/kv/tenant:q/s/a0?consistency=linearizable", "", c.Auth(),
                         std::chrono::seconds(10))
                .status,
            503);
  // Restart both: the cluster recovers and nothing acknowledged is lost.
  ASSERT_TRUE(c.Restart(a));
  ASSERT_TRUE(c.Restart(b));
  int l = c.WaitLeader(std::chrono::seconds(10));
  ASSERT_GE(l, 0);
  EXPECT_EQ(c.Request(l, "PUT", "/api/v1/kv/tenant:q/s/after", "{\"value\":1}").status, 200);
  std::string detail;
  ASSERT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
  for (int i = 0; i < 3; ++i) {
    for (const std::string& k : acked) {
      EXPECT_EQ(c.node(i).http().Request("GET", "/api/v1/kv/tenant:q/s/" + k, "", c.Auth()).status, 200)
          << c.id(i) << " lost " << k;
    }
  }
}

}  // namespace
}  // namespace concordance::testing
