// The single-node server end to end: a real `concordance` process, spoken to
// over real HTTP and WebSocket.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tests/lib/node.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

constexpr char kNs[] = "tenant:acme/user:u1/preferences";
const std::string kKv = std::string("/api/v1/kv/") + kNs + "/";

class KvTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = new TestNode("kv");
    ASSERT_TRUE(node_->Start({"--bootstrap", "--node-id=n1"}));
    ASSERT_TRUE(node_->WaitReady());
  }
  static void TearDownTestSuite() {
    node_->Stop();
    delete node_;
  }
  HttpResult Put(const std::string& key, const std::string& body,
                 const std::map<std::string, std::string>& h = {}) {
    return node_->http().Request("PUT", kKv + key, body, h);
  }
  HttpResult Get(const std::string& target) { return node_->http().Request("GET", target); }
  static TestNode* node_;
};
TestNode* KvTest::node_ = nullptr;

TEST_F(KvTest, RestCrudWithVersions) {
  HttpResult r = Put("theme", "{\"value\":\"dark\"}", {{"X-Concordance-Actor", "user:u1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto put1 = ParseJson(r.body);
  EXPECT_EQ(JsonInt(put1, "version"), 1);
  EXPECT_GT(JsonInt(put1, "seq"), 0);
  EXPECT_TRUE(put1["expiresAt"].IsNull());
  r = Put("theme", "{\"value\":{\"mode\":\"light\",\"contrast\":[1,2.5,null,true]}}");
  auto put2 = ParseJson(r.body);
  EXPECT_EQ(JsonInt(put2, "version"), 2);
  EXPECT_GT(JsonInt(put2, "seq"), JsonInt(put1, "seq"));
  r = Get(kKv + "theme");
  ASSERT_EQ(r.status, 200);
  auto e = ParseJson(r.body);
  EXPECT_EQ(JsonString(e, "namespace"), kNs);
  EXPECT_EQ(JsonString(e, "key"), "theme");
  EXPECT_EQ(JsonInt(e, "version"), 2);
  EXPECT_EQ(JsonString(e, "updatedBy"), "api");  // no actor header on the 2nd write
  EXPECT_TRUE(e["value"].IsObject());
  EXPECT_EQ(JsonString(e["value"], "mode"), "light");
  EXPECT_TRUE(e["expiresAt"].IsNull());
  EXPECT_GT(JsonInt(e, "updatedAt"), 1700000000000);
  r = node_->http().Request("DELETE", kKv + "theme");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GT(JsonInt(ParseJson(r.body), "seq"), JsonInt(put2, "seq"));
  EXPECT_EQ(Get(kKv + "theme").status, 404);
  EXPECT_EQ(node_->http().Request("DELETE", kKv + "theme").status, 404);
  // Written again after a delete: version 1.
  EXPECT_EQ(JsonInt(ParseJson(Put("theme", "{\"value\":1}").body), "version"), 1);
}

TEST_F(KvTest, ListWithTrailingSlashPrefixAndPaging) {
  const std::string ns = "/api/v1/kv/tenant:acme/projects/p1/";
  for (const char* k : {"agent-a", "agent-b", "agent-c", "budget"}) {
    ASSERT_EQ(node_->http().Request("PUT", ns + k, "{\"value\":\"x\"}").status, 200);
  }
  auto all = ParseJson(Get(ns).body);
  ASSERT_TRUE(all["entries"].IsArray());
  EXPECT_EQ(all["entries"].Size(), 4u);
  EXPECT_TRUE(all["next"].IsNull());
  auto page = ParseJson(Get(ns + "?prefix=agent-&limit=2").body);
  ASSERT_EQ(page["entries"].Size(), 2u);
  EXPECT_EQ(JsonString(page["entries"][1], "key"), "agent-b");
  ASSERT_TRUE(page["next"].IsString());
  auto rest = ParseJson(Get(ns + "?prefix=agent-&limit=2&after=" + JsonString(page, "next")).body);
  ASSERT_EQ(rest["entries"].Size(), 1u);
  EXPECT_EQ(JsonString(rest["entries"][0], "key"), "agent-c");
}

TEST_F(KvTest, KeyWithSlashTravelsAsPercent2F) {
  ASSERT_EQ(Put("a%2Fb", "{\"value\":7}").status, 200);
  auto e = ParseJson(Get(kKv + "a%2Fb").body);
  EXPECT_EQ(JsonString(e, "key"), "a/b");
}

TEST_F(KvTest, BatchIsAtomic) {
  const std::string ns = "tenant:acme/automations";
  ASSERT_EQ(node_->http().Request("PUT", "/api/v1/kv/" + ns + "/existing", "{\"value\":1}").status, 200);
  // The second op's CAS fails: nothing of the batch is written.
  std::string failing = "{\"ops\":[{\"op\":\"set\",\"namespace\":\"" + ns +
                        "\",\"key\":\"new\",\"value\":1},{\"op\":\"set\",\"namespace\":\"" + ns +
                        "\",\"key\":\"existing\",\"value\":2,\"expectedVersion\":5}]}";
  HttpResult r = node_->http().Request("POST", "/api/v1/batch", failing);
  EXPECT_EQ(r.status, 409) << r.body;
  auto err = ParseJson(r.body);
  EXPECT_EQ(JsonInt(err["error"], "currentVersion"), 1);
  EXPECT_EQ(JsonInt(err["error"], "opIndex"), 1);
  EXPECT_EQ(Get("/api/v1/kv/" + ns + "/new").status, 404);
  EXPECT_EQ(JsonInt(ParseJson(Get("/api/v1/kv/" + ns + "/existing").body), "version"), 1);
  std::string good = "{\"ops\":[{\"op\":\"set\",\"namespace\":\"" + ns +
                     "\",\"key\":\"new\",\"value\":1},{\"op\":\"delete\",\"namespace\":\"" + ns +
                     "\",\"key\":\"existing\",\"expectedVersion\":1}]}";
  r = node_->http().Request("POST", "/api/v1/batch", good);
  ASSERT_EQ(r.status, 200) << r.body;
  auto res = ParseJson(r.body);
  ASSERT_EQ(res["results"].Size(), 2u);
  EXPECT_EQ(JsonInt(res["results"][0], "version"), 1);
  EXPECT_EQ(JsonInt(res["results"][1], "seq"), JsonInt(res["results"][0], "seq") + 1);
  EXPECT_EQ(Get("/api/v1/kv/" + ns + "/existing").status, 404);
}

TEST_F(KvTest, ChangesByTenantInSeqOrder) {
  const std::string tenant = "chg";
  int64_t since = -1;
  for (int i = 0; i < 5; ++i) {
    HttpResult r = node_->http().Request(
        "PUT", "/api/v1/kv/tenant:chg/settings/k" + std::to_string(i), "{\"value\":" + std::to_string(i) + "}");
    ASSERT_EQ(r.status, 200);
    if (since < 0) since = JsonInt(ParseJson(r.body), "seq") - 1;
  }
  node_->http().Request("PUT", "/api/v1/kv/tenant:other/settings/x", "{\"value\":0}");
  auto c = ParseJson(Get("/api/v1/changes?tenant=chg&since=" + std::to_string(since)).body);
  ASSERT_TRUE(c["changes"].IsArray());
  ASSERT_EQ(c["changes"].Size(), 5u);
  int64_t prev = since;
  for (auto& ev : c["changes"].GetArray()) {
    EXPECT_GT(JsonInt(ev, "seq"), prev);
    prev = JsonInt(ev, "seq");
    EXPECT_EQ(JsonString(ev, "tenantId"), "chg");
    EXPECT_EQ(JsonString(ev, "op"), "set");
  }
  EXPECT_GE(JsonInt(c, "nextSeq"), prev);
  EXPECT_GE(JsonInt(c, "oldestSeq"), 1);
  // Long-poll: a wait answered by a write that arrives during it. The write
  // is sent once the server reports the poll as waiting.
  auto start = std::chrono::steady_clock::now();
  std::string body;
  std::thread poller([&] {
    HttpClient other("127.0.0.1", node_->port());
    body = other.Request("GET", "/api/v1/changes?tenant=chg&wait=5000&since=" +
                                    std::to_string(JsonInt(c, "nextSeq"))).body;
  });
  ASSERT_TRUE(WaitFor(
      [&] {
        return Get("/metrics").body.find("concordance_changes_long_polls_waiting 1") != std::string::npos;
      },
      std::chrono::seconds(5)));
  node_->http().Request("PUT", "/api/v1/kv/tenant:chg/settings/late", "{\"value\":1}");
  poller.join();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto waited = ParseJson(body);
  ASSERT_EQ(waited["changes"].Size(), 1u);
  EXPECT_EQ(JsonString(waited["changes"][0], "key"), "late");
  EXPECT_LT(ms, 4000);
}

TEST_F(KvTest, StreamCrudAndWatchPayload) {
  WsClient watcher, writer;
  ASSERT_TRUE(watcher.Connect("127.0.0.1", node_->port(), "/stream"));
  ASSERT_TRUE(writer.Connect("127.0.0.1", node_->port(), "/stream", {{"X-Concordance-Actor", "user:u1"}}));
  auto sub = Call(watcher, 1, "watch/subscribe", std::string("{\"namespace\":\"") + kNs + "\"}");
  ASSERT_TRUE(sub.HasMember("result")) << "subscribe failed";
  std::string sub_id = JsonString(sub["result"], "subscriptionId");
  EXPECT_FALSE(sub_id.empty());
  auto start = std::chrono::steady_clock::now();
  auto set = Call(writer, 2, "kv/set", std::string("{\"namespace\":\"") + kNs + "\",\"key\":\"ws\",\"value\":\"dark\"}");
  ASSERT_TRUE(set.HasMember("result"));
  int64_t seq = JsonInt(set["result"], "seq");
  std::optional<std::string> note = watcher.Receive(std::chrono::seconds(5));
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(note.has_value()) << "no watch/change arrived";
  printf("watch/change latency (write sent -> notification received): %.2f ms\n", ms);
  auto n = ParseJson(*note);
  EXPECT_EQ(JsonString(n, "jsonrpc"), "2.0");
  EXPECT_EQ(JsonString(n, "method"), "watch/change");
  EXPECT_FALSE(n.HasMember("id"));
  const auto& p = n["params"];
  // Exactly the seed's payload fields, plus the subscriptionId.
  std::set<std::string> fields;
  for (auto& m : p.GetObject()) fields.insert(m.name.GetString());
  EXPECT_EQ(fields, (std::set<std::string>{"subscriptionId", "seq", "op", "namespace", "key", "value",
                                           "version", "actor", "timestamp", "tenantId"}));
  EXPECT_EQ(JsonString(p, "subscriptionId"), sub_id);
  EXPECT_EQ(JsonInt(p, "seq"), seq);
  EXPECT_EQ(JsonString(p, "op"), "set");
  EXPECT_EQ(JsonString(p, "namespace"), kNs);
  EXPECT_EQ(JsonString(p, "key"), "ws");
  EXPECT_EQ(JsonString(p, "value"), "dark");
  EXPECT_EQ(JsonInt(p, "version"), 1);
  EXPECT_EQ(JsonString(p, "actor"), "user:u1");
  EXPECT_GT(JsonInt(p, "timestamp"), 1700000000000);
  EXPECT_EQ(JsonString(p, "tenantId"), "acme");

  auto get = Call(writer, 3, "kv/get", std::string("{\"namespace\":\"") + kNs + "\",\"key\":\"ws\"}");
  EXPECT_EQ(JsonString(get["result"], "value"), "dark");
  auto list = Call(writer, 4, "kv/list", std::string("{\"namespace\":\"") + kNs + "\",\"prefix\":\"w\"}");
  EXPECT_EQ(list["result"]["entries"].Size(), 1u);
  auto del = Call(writer, 5, "kv/delete", std::string("{\"namespace\":\"") + kNs + "\",\"key\":\"ws\"}");
  EXPECT_GT(JsonInt(del["result"], "seq"), seq);
  auto gone = Call(writer, 6, "kv/get", std::string("{\"namespace\":\"") + kNs + "\",\"key\":\"ws\"}");
  EXPECT_EQ(RpcErrorCode(gone), -32004);
  note = watcher.Receive(std::chrono::seconds(5));
  ASSERT_TRUE(note.has_value());
  EXPECT_EQ(JsonString(ParseJson(*note)["params"], "op"), "delete");
  auto unsub = Call(watcher, 7, "watch/unsubscribe", "{\"subscriptionId\":\"" + sub_id + "\"}");
  EXPECT_TRUE(unsub.HasMember("result"));
  Call(writer, 8, "kv/set", std::string("{\"namespace\":\"") + kNs + "\",\"key\":\"after\",\"value\":1}");
  EXPECT_FALSE(watcher.Receive(std::chrono::milliseconds(300)).has_value())
      << "a change arrived after unsubscribe";
}

TEST_F(KvTest, MetricsExposeRaftAndRequests) {
  HttpResult r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  for (const char* m : {"concordance_raft_term", "concordance_raft_commit_index",
                        "concordance_raft_applied_index", "concordance_raft_fsync_duration_seconds_bucket",
                        "concordance_http_requests_total", "concordance_http_request_duration_seconds_bucket",
                        "concordance_raft_proposals_total", "concordance_websocket_connections",
                        "concordance_watch_subscriptions"}) {
    EXPECT_NE(r.body.find(m), std::string::npos) << m;
  }
  EXPECT_EQ(r.body.find("tenant:"), std::string::npos) << "tenant data in a label";
}

// Restart keeps data and seq keeps rising; SIGTERM leaves databases that
// reopen cleanly.
TEST(RestartTest, DataSurvivesAndSeqKeepsRising) {
  TestNode node("restart");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  int64_t last_seq = 0;
  for (int i = 0; i < 20; ++i) {
    HttpResult r = node.http().Request("PUT", "/api/v1/kv/tenant:r/settings/k" + std::to_string(i % 3),
                                       "{\"value\":" + std::to_string(i) + "}");
    ASSERT_EQ(r.status, 200);
    last_seq = JsonInt(ParseJson(r.body), "seq");
  }
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream"));
  ASSERT_TRUE(Call(ws, 1, "watch/subscribe", "{\"tenant\":\"r\"}").HasMember("result"));
  int status = node.Stop();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status << "\n" << node.log();
  // The WebSocket got a close frame (1001 going away), not a dropped socket.
  ASSERT_TRUE(WaitFor([&] { return ws.closed(); }, std::chrono::seconds(5)));
  EXPECT_EQ(ws.close_code(), 1001);
  EXPECT_NE(node.log().find("stopped cleanly"), std::string::npos);
  for (const char* db : {"raft.db", "state.db"}) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open_v2((node.data_dir() + "/" + db).c_str(), &h, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok") << db;
    sqlite3_finalize(st);
    sqlite3_close(h);
  }
  // --bootstrap again is ignored: the node keeps its state.
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  auto e = ParseJson(node.http().Request("GET", "/api/v1/kv/tenant:r/settings/k1").body);
  EXPECT_EQ(JsonInt(e, "version"), 7);  // i = 1, 4, ..., 19
  HttpResult r = node.http().Request("PUT", "/api/v1/kv/tenant:r/settings/new", "{\"value\":1}");
  EXPECT_EQ(JsonInt(ParseJson(r.body), "seq"), last_seq + 1);
  EXPECT_NE(node.log().find("--bootstrap ignored"), std::string::npos);
  node.Stop();
}

TEST(RestartTest, KillDashNineLosesNoAcknowledgedWrite) {
  TestNode node("kill9");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  int acked = 0;
  for (int i = 0; i < 50; ++i) {
    if (node.http().Request("PUT", "/api/v1/kv/tenant:k/s/key" + std::to_string(i), "{\"value\":1}").status == 200) {
      ++acked;
    }
  }
  ASSERT_EQ(acked, 50);
  node.Kill();
  ASSERT_TRUE(node.Start({}));
  ASSERT_TRUE(node.WaitReady());
  auto list = ParseJson(node.http().Request("GET", "/api/v1/kv/tenant:k/s/?limit=1000").body);
  EXPECT_EQ(list["entries"].Size(), 50u);
  node.Stop();
}

// The smallest log index raft.db still holds (read with SQLite directly).
int64_t FirstLogIndex(const std::string& data_dir) {
  sqlite3* h = nullptr;
  int64_t first = -1;
  if (sqlite3_open_v2((data_dir + "/raft.db").c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, "SELECT min(idx) FROM log", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      first = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return first;
}

// A node compacts its own log without a snapshot image: state.db, fsynced
// before the entries go, is the state. kill -9 after that loses nothing;
// a lost state.db is a clear refusal to start, never an empty store.
TEST(RestartTest, CompactedLogNeedsNoImageAndAMissingStateDbIsAClearError) {
  TestNode node("compact");
  ASSERT_TRUE(node.Start({"--bootstrap", "--snapshot-threshold=20"}));
  ASSERT_TRUE(node.WaitReady());
  int64_t last_seq = 0;
  for (int i = 0; i < 100; ++i) {
    HttpResult r = node.http().Request("PUT", "/api/v1/kv/tenant:c/s/k" + std::to_string(i),
                                       "{\"value\":" + std::to_string(i) + "}");
    ASSERT_EQ(r.status, 200);
    last_seq = JsonInt(ParseJson(r.body), "seq");
  }
  ASSERT_TRUE(WaitFor([&] { return FirstLogIndex(node.data_dir()) > 60; }, std::chrono::seconds(5)))
      << "raft.db still starts at " << FirstLogIndex(node.data_dir());
  EXPECT_FALSE(std::filesystem::exists(node.data_dir() + "/snapshots") &&
               !std::filesystem::is_empty(node.data_dir() + "/snapshots"))
      << "a single node has no follower to make an image for";
  node.Kill();
  ASSERT_TRUE(node.Start({}));
  ASSERT_TRUE(node.WaitReady());
  auto list = ParseJson(node.http().Request("GET", "/api/v1/kv/tenant:c/s/?limit=1000").body);
  EXPECT_EQ(list["entries"].Size(), 100u);
  HttpResult r = node.http().Request("PUT", "/api/v1/kv/tenant:c/s/after", "{\"value\":1}");
  EXPECT_EQ(JsonInt(ParseJson(r.body), "seq"), last_seq + 1);
  ASSERT_EQ(node.Stop(), 0);

  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(node.data_dir() + "/state.db" + suffix);
  }
  EXPECT_FALSE(node.Start({}));
  EXPECT_NE(node.log().find("no snapshot image to rebuild it from"), std::string::npos) << node.log();
}

TEST(BackupTest, SnapshotEndpointBackupRestoresIntoANewCluster) {
  TestNode source("backup-src");
  ASSERT_TRUE(source.Start({"--bootstrap"}));
  ASSERT_TRUE(source.WaitReady());
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(source.http().Request("PUT", "/api/v1/kv/tenant:b/s/k" + std::to_string(i),
                                    "{\"value\":" + std::to_string(i) + "}").status, 200);
  }
  HttpResult backup = source.http().Request("GET", "/api/v1/snapshot");
  ASSERT_EQ(backup.status, 200);
  EXPECT_EQ(backup.headers["content-type"], "application/vnd.sqlite3");
  EXPECT_EQ(backup.body.substr(0, 15), "SQLite format 3");
  std::string source_hash = JsonString(ParseJson(source.http().Request("GET", "/api/v1/cluster/status").body), "stateHash");
  source.Stop();

  std::string file = source.data_dir() + "-backup.db";
  {
    FILE* f = fopen(file.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fwrite(backup.body.data(), 1, backup.body.size(), f);
    fclose(f);
  }
  TestNode restored("backup-dst");
  ASSERT_TRUE(restored.Start({"--bootstrap", "--restore=" + file}));
  ASSERT_TRUE(restored.WaitReady());
  auto status = ParseJson(restored.http().Request("GET", "/api/v1/cluster/status").body);
  EXPECT_EQ(JsonString(status, "stateHash"), source_hash);
  auto list = ParseJson(restored.http().Request("GET", "/api/v1/kv/tenant:b/s/?limit=100").body);
  EXPECT_EQ(list["entries"].Size(), 30u);
  // The changelog and its seq continue where the backup ended.
  HttpResult w = restored.http().Request("PUT", "/api/v1/kv/tenant:b/s/after", "{\"value\":1}");
  EXPECT_EQ(JsonInt(ParseJson(w.body), "seq"), 31);
  restored.Stop();
  // Restart keeps it; --restore on a data dir with state is refused.
  TestNode again("backup-refused");
  Process p;
  ASSERT_TRUE(p.Start(ConcordanceBinary(),
                      {"--listen=127.0.0.1:" + std::to_string(again.port()),
                       "--data-dir=" + restored.data_dir(), "--bootstrap", "--restore=" + file},
                      again.data_dir() + ".log"));
  int st = p.Wait(std::chrono::seconds(10));
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0);
  EXPECT_NE(p.ReadLog().find("--restore needs --bootstrap and an empty data dir"), std::string::npos);
}

}  // namespace
}  // namespace concordance::testing
