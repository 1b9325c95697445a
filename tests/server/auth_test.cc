// The auth matrix of design.md §7 against a real process.
#include <sys/wait.h>

#include "gtest/gtest.h"
#include "tests/lib/node.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

constexpr char kApi[] = "api-key-0123456789";
constexpr char kAgent[] = "agent-key-0123456789";
constexpr char kPeer[] = "peer-key-0123456789";

std::map<std::string, std::string> Bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}};
}

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = new TestNode("auth");
    ASSERT_TRUE(node_->Start({"--bootstrap", std::string("--api-key=") + kApi,
                              std::string("--agent-key=") + kAgent, std::string("--peer-key=") + kPeer}));
    ASSERT_TRUE(node_->WaitReady());
  }
  static void TearDownTestSuite() {
    node_->Stop();
    delete node_;
  }
  int Status(const std::string& method, const std::string& target, const std::string& key,
             const std::string& body = "") {
    return node_->http().Request(method, target, body, key.empty() ? std::map<std::string, std::string>{} : Bearer(key)).status;
  }
  static TestNode* node_;
};
TestNode* AuthTest::node_ = nullptr;

const char kKey[] = "/api/v1/kv/tenant:a/settings/k";

TEST_F(AuthTest, NoKeyIsUnauthorized) {
  EXPECT_EQ(Status("GET", kKey, ""), 401);
  EXPECT_EQ(Status("PUT", kKey, "", "{\"value\":1}"), 401);
  EXPECT_EQ(Status("GET", "/api/v1/changes?tenant=a", ""), 401);
  EXPECT_EQ(Status("GET", "/api/v1/cluster/status", ""), 401);
  EXPECT_EQ(Status("GET", "/metrics", ""), 401);
  EXPECT_EQ(Status("GET", kKey, "wrong-key"), 401);
  WsClient ws;
  std::string err;
  EXPECT_FALSE(ws.Connect("127.0.0.1", node_->port(), "/stream", {}, &err));
  EXPECT_EQ(err.substr(0, 3), "401") << err;
}

TEST_F(AuthTest, HealthAndReadyNeedNoKey) {
  EXPECT_EQ(Status("GET", "/api/v1/health", ""), 200);
  EXPECT_EQ(Status("GET", "/api/v1/ready", ""), 200);
}

TEST_F(AuthTest, AgentKeyReadsButCannotWrite) {
  ASSERT_EQ(Status("PUT", kKey, kApi, "{\"value\":1}"), 200);
  EXPECT_EQ(Status("GET", kKey, kAgent), 200);
  EXPECT_EQ(Status("GET", "/api/v1/kv/tenant:a/settings/", kAgent), 200);
  EXPECT_EQ(Status("GET", "/api/v1/changes?tenant=a", kAgent), 200);
  EXPECT_EQ(Status("GET", "/api/v1/cluster/status", kAgent), 200);
  EXPECT_EQ(Status("GET", "/metrics", kAgent), 200);
  EXPECT_EQ(Status("PUT", kKey, kAgent, "{\"value\":2}"), 403);
  EXPECT_EQ(Status("DELETE", kKey, kAgent), 403);
  EXPECT_EQ(Status("POST", "/api/v1/batch", kAgent, "{\"ops\":[]}"), 403);
  EXPECT_EQ(Status("POST", "/api/v1/cluster/remove", kAgent, "{\"nodeId\":\"x\"}"), 403);
  EXPECT_EQ(Status("GET", "/api/v1/snapshot", kAgent), 403);
  // Over /stream: reads and watches work, writes get -32003.
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node_->port(), "/stream", Bearer(kAgent)));
  EXPECT_TRUE(Call(ws, 1, "kv/get", "{\"namespace\":\"tenant:a/settings\",\"key\":\"k\"}").HasMember("result"));
  EXPECT_TRUE(Call(ws, 2, "watch/subscribe", "{\"tenant\":\"a\"}").HasMember("result"));
  EXPECT_EQ(RpcErrorCode(Call(ws, 3, "kv/set", "{\"namespace\":\"tenant:a/settings\",\"key\":\"k\",\"value\":3}")),
            -32003);
  EXPECT_EQ(RpcErrorCode(Call(ws, 4, "kv/delete", "{\"namespace\":\"tenant:a/settings\",\"key\":\"k\"}")),
            -32003);
  // Nothing the agent tried was written.
  EXPECT_EQ(JsonInt(ParseJson(node_->http().Request("GET", kKey, "", Bearer(kApi)).body), "version"), 1);
}

TEST_F(AuthTest, ApiKeyDoesEverything) {
  EXPECT_EQ(Status("PUT", kKey, kApi, "{\"value\":5}"), 200);
  EXPECT_EQ(Status("GET", kKey, kApi), 200);
  EXPECT_EQ(Status("POST", "/api/v1/batch", kApi,
                   "{\"ops\":[{\"op\":\"set\",\"namespace\":\"tenant:a/settings\",\"key\":\"b\",\"value\":1}]}"),
            200);
  EXPECT_EQ(Status("GET", "/api/v1/snapshot", kApi), 200);
  EXPECT_EQ(Status("DELETE", kKey, kApi), 200);
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node_->port(), "/stream", Bearer(kApi)));
  EXPECT_TRUE(Call(ws, 1, "kv/set", "{\"namespace\":\"tenant:a/settings\",\"key\":\"w\",\"value\":1}").HasMember("result"));
}

TEST_F(AuthTest, RaftNeedsThePeerKey) {
  for (const std::string& key : {std::string(), std::string(kAgent), std::string(kApi), std::string("nope")}) {
    WsClient ws;
    std::string err;
    EXPECT_FALSE(ws.Connect("127.0.0.1", node_->port(), "/raft?nodeId=n9",
                            key.empty() ? std::map<std::string, std::string>{} : Bearer(key), &err))
        << "accepted with key '" << key << "'";
    EXPECT_EQ(err.substr(0, 3), "401") << err;
  }
  WsClient peer;
  std::string err;
  EXPECT_TRUE(peer.Connect("127.0.0.1", node_->port(), "/raft?nodeId=n9", Bearer(kPeer), &err)) << err;
}

TEST_F(AuthTest, KeysAreNeverLogged) {
  std::string log = node_->log();
  EXPECT_FALSE(log.empty());
  for (const char* k : {kApi, kAgent, kPeer}) EXPECT_EQ(log.find(k), std::string::npos) << k;
}

TEST(AuthStartupTest, RefusesNonLoopbackWithoutKeys) {
  TestNode node("open-wide");
  Process p;
  ASSERT_TRUE(p.Start(ConcordanceBinary(),
                      {"--listen=0.0.0.0:" + std::to_string(node.port()), "--data-dir=" + node.data_dir(),
                       "--bootstrap"},
                      node.data_dir() + ".log"));
  int status = p.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(p.ReadLog().find("refusing to listen on 0.0.0.0"), std::string::npos) << p.ReadLog();
}

TEST(AuthStartupTest, OpenOnLoopbackWarns) {
  TestNode node("open-loopback");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  EXPECT_EQ(node.http().Request("GET", "/api/v1/cluster/status").status, 200);
  EXPECT_NE(node.log().find("no API keys configured"), std::string::npos);
  node.Stop();
}

TEST(AuthStartupTest, KeysFromEnvironment) {
  TestNode node("env-keys");
  Process p;
  ASSERT_TRUE(p.Start(ConcordanceBinary(),
                      {"--listen=127.0.0.1:" + std::to_string(node.port()), "--data-dir=" + node.data_dir(),
                       "--bootstrap"},
                      node.data_dir() + ".log",
                      {"CONCORDANCE_API_KEY=env-api", "CONCORDANCE_AGENT_API_KEY=env-agent"}));
  ASSERT_TRUE(WaitFor([&] { return node.http().Request("GET", "/api/v1/ready").status == 200; },
                      std::chrono::seconds(10)));
  EXPECT_EQ(node.http().Request("GET", kKey).status, 401);
  EXPECT_EQ(node.http().Request("GET", kKey, "", Bearer("env-agent")).status, 404);
  EXPECT_EQ(node.http().Request("PUT", kKey, "{\"value\":1}", Bearer("env-agent")).status, 403);
  EXPECT_EQ(node.http().Request("PUT", kKey, "{\"value\":1}", Bearer("env-api")).status, 200);
}

}  // namespace
}  // namespace concordance::testing
