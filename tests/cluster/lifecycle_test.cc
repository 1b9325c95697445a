// Node lifecycle faults in a real cluster (design.md §14; issue 10, items
// 21-23): a removed node stops serving as a member, a join with the wrong
// key fails clearly, a restart with a new --advertise moves the member.
#include <sys/wait.h>

#include "gtest/gtest.h"
#include "tests/lib/cluster.h"

namespace concordance::testing {
namespace {

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

int NotLeader(TestCluster& c) {
  int leader = c.WaitLeader();
  return leader == c.size() - 1 ? 0 : c.size() - 1;
}

// Item 21.
TEST(LifecycleTest, ARemovedNodeStopsServingAsAMember) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int gone = NotLeader(c);
  ASSERT_EQ(c.Request(leader, "PUT", "/api/v1/kv/tenant:rm/s/before", "{\"value\":1}").status, 200);
  auto auth = c.Auth();
  ASSERT_TRUE(WaitFor([&] { return c.node(gone).http().Request("GET", "/api/v1/kv/tenant:rm/s/before", "", auth).status == 200; },
                      std::chrono::seconds(5)));
  HttpResult r = c.Request(leader, "POST", "/api/v1/cluster/remove", "{\"nodeId\":\"" + c.id(gone) + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  TestNode& node = c.node(gone);
  HttpResult ready;
  EXPECT_TRUE(WaitFor(
      [&] {
        ready = node.http().Request("GET", "/api/v1/ready");
        return ready.status == 503;
      },
      std::chrono::seconds(10)))
      << ready.status << " " << ready.body;
  EXPECT_NE(ready.body.find("removed from the cluster"), std::string::npos) << ready.body;
  // Reads and writes answer unavailable naming the cause — never stale data.
  ASSERT_EQ(c.Request(leader, "PUT", "/api/v1/kv/tenant:rm/s/after", "{\"value\":2}").status, 200);
  for (const char* key : {"before", "after"}) {
    HttpResult get = node.http().Request("GET", std::string("/api/v1/kv/tenant:rm/s/") + key, "", auth);
    EXPECT_EQ(get.status, 503) << key << ": " << get.body;
    EXPECT_NE(get.body.find("removed from the cluster"), std::string::npos) << get.body;
  }
  HttpResult put = node.http().Request("PUT", "/api/v1/kv/tenant:rm/s/x", "{\"value\":3}", auth);
  EXPECT_EQ(put.status, 503) << put.body;
  auto status = c.Status(gone);
  EXPECT_TRUE(status.HasMember("removed") && status["removed"].IsBool() && status["removed"].GetBool());
  EXPECT_EQ(Count(node.log(), "was removed from the cluster"), 1u) << node.log();
  // Restarted with --join, it rejoins and serves again.
  ASSERT_EQ(node.Stop(), 0);
  ASSERT_TRUE(c.Restart(gone, {"--join=" + c.node(leader).address()}));
  ASSERT_TRUE(c.WaitVoters(3));
  EXPECT_TRUE(WaitFor([&] { return node.http().Request("GET", "/api/v1/kv/tenant:rm/s/after", "", auth).status == 200; },
                      std::chrono::seconds(10)));
  EXPECT_TRUE(node.WaitReady());
}

// Found in review: a node removed and added back may lead before a
// lagging member has applied its return; that member must still take its
// appends (and so learn of the return), not refuse it as removed.
TEST(LifecycleTest, ALaggingMemberFollowsALeaderItStillThinksRemoved) {
  TestCluster c;
  ASSERT_TRUE(c.Start(4));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int back = leader == 3 ? 2 : 3;           // removed, then added back, then leads
  int lagging = (back + 1) % 4 == leader ? (back + 2) % 4 : (back + 1) % 4;
  ASSERT_NE(lagging, leader);
  ASSERT_EQ(c.Request(leader, "POST", "/api/v1/cluster/remove", "{\"nodeId\":\"" + c.id(back) + "\"}").status, 200);
  ASSERT_TRUE(c.WaitVoters(3));
  ASSERT_EQ(c.node(back).Stop(), 0);
  ASSERT_EQ(c.node(lagging).Stop(), 0);  // never hears of the return
  ASSERT_TRUE(c.Restart(back, {"--join=" + c.node(leader).address()}));
  ASSERT_TRUE(c.WaitVoters(4, std::chrono::seconds(30)));
  HttpResult t = c.Request(leader, "POST", "/api/v1/cluster/transfer-leadership", "{\"nodeId\":\"" + c.id(back) + "\"}");
  ASSERT_EQ(t.status, 200) << t.body;
  ASSERT_EQ(c.WaitLeader(), back);
  ASSERT_EQ(c.Request(back, "PUT", "/api/v1/kv/tenant:lag/s/k", "{\"value\":1}").status, 200);
  ASSERT_TRUE(c.Restart(lagging));
  std::string detail;
  EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
  EXPECT_TRUE(c.node(lagging).WaitReady());
}

// Item 22.
TEST(LifecycleTest, JoiningWithTheWrongKeyFailsWithAClearError) {
  TestCluster c;
  ASSERT_TRUE(c.Start(1));
  TestNode node("wrong-key");
  std::vector<std::string> args = {"--listen=127.0.0.1:" + std::to_string(node.port()),
                                   "--data-dir=" + node.data_dir(), "--node-id=node2",
                                   "--api-key=not-the-clusters-key", "--peer-key=not-the-peer-key",
                                   "--join=" + c.node(0).address()};
  Process p;
  ASSERT_TRUE(p.Start(ConcordanceBinary(), args, node.data_dir() + ".log"));
  int status = p.Wait(std::chrono::seconds(20));
  ASSERT_NE(status, -1) << "still retrying after 20 s:\n" << p.ReadLog();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(p.ReadLog().find("refused this node's key (HTTP 401)"), std::string::npos) << p.ReadLog();
  EXPECT_TRUE(c.WaitVoters(1));
}

// Item 23: the member's address changes through the log, with --join and
// without it.
TEST(LifecycleTest, ARestartWithANewAdvertiseMovesTheMember) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  for (int moving : {0, 2}) {  // node1 has no --join, node3 has one
    int leader = c.WaitLeader();
    ASSERT_GE(leader, 0);
    if (leader == moving) {
      ASSERT_EQ(c.Request(leader, "POST", "/api/v1/cluster/transfer-leadership", "{}").status, 200);
      leader = c.WaitLeader();
    }
    ASSERT_EQ(c.node(moving).Stop(), 0);
    c.node(moving).UseNewPort();
    ASSERT_TRUE(c.Restart(moving));
    std::string address = c.node(moving).address();
    std::string seen;
    EXPECT_TRUE(WaitFor(
        [&] {
          int l = c.WaitLeader(std::chrono::seconds(2));
          if (l < 0) return false;
          auto s = c.Status(l);
          if (!s.HasMember("peers") || !s["peers"].IsArray()) return false;
          for (auto& p : s["peers"].GetArray()) {
            if (JsonString(p, "nodeId") == c.id(moving)) seen = JsonString(p, "address");
          }
          return seen == address;
        },
        std::chrono::seconds(20)))
        << c.id(moving) << " is still at " << seen << ", not " << address << "\n" << c.node(moving).log();
    leader = c.WaitLeader();
    ASSERT_EQ(c.Request(leader, "PUT", "/api/v1/kv/tenant:mv/s/k" + std::to_string(moving), "{\"value\":1}").status, 200);
    std::string detail;
    EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
  }
}

}  // namespace
}  // namespace concordance::testing
