// A 3-node cluster formed as seed 003 says: bootstrap + two joins.
#include <tuple>

#include "gtest/gtest.h"
#include "tests/lib/cluster.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

TEST(FormationTest, ThreeVotersOneLeaderAndEveryNodeServesTheWrite) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  for (int i = 0; i < 3; ++i) {
    auto s = c.Status(i);
    ASSERT_TRUE(s["peers"].IsArray());
    EXPECT_EQ(s["peers"].Size(), 3u);
    EXPECT_EQ(JsonString(s["leader"], "nodeId"), c.id(leader)) << c.id(i);
    for (auto& p : s["peers"].GetArray()) EXPECT_TRUE(p["voter"].GetBool());
  }
  // A subscriber on a follower receives the change.
  int follower = (leader + 1) % 3;
  WsClient watcher;
  ASSERT_TRUE(watcher.Connect("127.0.0.1", c.node(follower).port(), "/stream", c.Auth()));
  ASSERT_TRUE(Call(watcher, 1, "watch/subscribe", "{\"tenant\":\"acme\"}").HasMember("result"));

  HttpResult w = c.node(leader).http().Request("PUT", "/api/v1/kv/tenant:acme/settings/theme",
                                               "{\"value\":\"dark\"}", c.Auth());
  ASSERT_EQ(w.status, 200) << w.body;
  int64_t seq = JsonInt(ParseJson(w.body), "seq");
  // Readable on every node (minSeq makes each wait for its own apply).
  for (int i = 0; i < 3; ++i) {
    HttpResult r = c.node(i).http().Request(
        "GET", "/api/v1/kv/tenant:acme/settings/theme?minSeq=" + std::to_string(seq), "", c.Auth());
    ASSERT_EQ(r.status, 200) << c.id(i) << ": " << r.body;
    EXPECT_EQ(JsonString(ParseJson(r.body), "value"), "dark") << c.id(i);
  }
  std::optional<std::string> note = watcher.Receive(std::chrono::seconds(5));
  ASSERT_TRUE(note.has_value()) << "the follower's subscriber got nothing";
  auto n = ParseJson(*note);
  EXPECT_EQ(JsonString(n, "method"), "watch/change");
  EXPECT_EQ(JsonInt(n["params"], "seq"), seq);
  std::string detail;
  EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(10), &detail)) << detail;
}

TEST(FormationTest, FollowersRedirectWritesAndServeLinearizableReads) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % 3;
  // HTTP: 307 to the leader's advertised address; following it succeeds.
  HttpResult r = c.node(follower).http().Request("PUT", "/api/v1/kv/tenant:acme/s/k",
                                                 "{\"value\":1}", c.Auth());
  ASSERT_EQ(r.status, 307) << r.body;
  EXPECT_EQ(r.headers["location"], "http://" + c.node(leader).address() + "/api/v1/kv/tenant:acme/s/k");
  auto err = ParseJson(r.body);
  EXPECT_EQ(JsonString(err["error"], "code"), "not_leader");
  EXPECT_EQ(JsonString(err["error"]["leader"], "nodeId"), c.id(leader));
  // Every write route redirects to the same path (with its query) on the leader.
  for (auto [method, target, body] : {
           std::make_tuple("DELETE", "/api/v1/kv/tenant:acme/s/k?expectedVersion=1", ""),
           std::make_tuple("POST", "/api/v1/batch",
                           "{\"ops\":[{\"op\":\"delete\",\"namespace\":\"tenant:acme/s\",\"key\":\"zz\"}]}")}) {
    HttpResult w = c.node(follower).http().Request(method, target, body, c.Auth());
    ASSERT_EQ(w.status, 307) << method << " " << w.body;
    EXPECT_EQ(w.headers["location"], "http://" + c.node(leader).address() + target) << method;
  }
  HttpResult followed = c.Request(follower, "PUT", "/api/v1/kv/tenant:acme/s/k", "{\"value\":2}");
  EXPECT_EQ(followed.status, 200) << followed.body;
  // /stream: -32001 naming the leader.
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", c.node(follower).port(), "/stream", c.Auth()));
  auto nl = Call(ws, 1, "kv/set", "{\"namespace\":\"tenant:acme/s\",\"key\":\"k\",\"value\":3}");
  EXPECT_EQ(RpcErrorCode(nl), -32001);
  EXPECT_EQ(JsonString(nl["error"]["data"]["leader"], "nodeId"), c.id(leader));
  EXPECT_EQ(JsonString(nl["error"]["data"]["leader"], "address"), c.node(leader).address());
  // A linearizable read on a follower sees the write just acknowledged.
  for (int i = 0; i < 20; ++i) {
    std::string v = std::to_string(100 + i);
    ASSERT_EQ(c.Request(leader, "PUT", "/api/v1/kv/tenant:acme/s/lin", "{\"value\":" + v + "}").status, 200);
    HttpResult g = c.node(follower).http().Request(
        "GET", "/api/v1/kv/tenant:acme/s/lin?consistency=linearizable", "", c.Auth());
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(JsonInt(ParseJson(g.body), "value"), 100 + i);
  }
  // Ready everywhere.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(c.node(i).WaitReady(std::chrono::seconds(5))) << c.id(i);
}

}  // namespace
}  // namespace concordance::testing
