// A single node against hostile clients and peers (issue 10): each test
// sends over the real wire what an attacker or a broken peer would, and
// checks the node refuses it clearly, keeps serving, and loses nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "storage/log_store.h"
#include "storage/validation.h"
#include "tests/lib/node.h"
#include "tests/lib/raft_peer.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

constexpr char kKey[] = "hardening-api-key";
const std::map<std::string, std::string> kAuth = {{"Authorization", "Bearer hardening-api-key"}};

rapidjson::Document Status(TestNode& node) {
  return ParseJson(node.http().Request("GET", "/api/v1/cluster/status", "", kAuth).body);
}

uint64_t StatusU64(TestNode& node, const char* field) {
  rapidjson::Document d = Status(node);
  if (!d.IsObject() || !d.HasMember(field) || !d[field].IsUint64()) return 0;
  return d[field].GetUint64();
}

double MetricOr(TestNode& node, const std::string& series, double fallback = 0) {
  return node.Metric(series, kAuth).value_or(fallback);
}

std::string SqliteFileBytes(const std::string& dir, const char* sql) {
  std::string path = dir + "/other.db";
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  sqlite3_close(db);
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string KeyFile(const std::string& dir, const std::string& line) {
  std::string path = dir + "/keys";
  std::ofstream(path) << line << "\n";
  return path;
}

// Item 1: a snapshot whose bytes are not a state.db of the announced index
// is refused before anything durable changes; the node keeps its log,
// keeps serving, and restarts.
TEST(HardeningTest, BadSnapshotImagesAreRefusedAndTheNodeSurvivesARestart) {
  TestNode node("bad-snapshot");
  ASSERT_TRUE(node.Start({"--bootstrap", std::string("--api-key=") + kKey}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:s/x/kept", "{\"value\":\"yes\"}", kAuth).status, 200);
  HttpResult backup = node.http().Request("GET", "/api/v1/snapshot", "", kAuth);
  ASSERT_EQ(backup.status, 200);
  std::mt19937 rng(7);
  std::string garbage(4096, 0);
  for (char& c : garbage) c = static_cast<char>(rng());
  std::string not_state = SqliteFileBytes(MakeTempDir("sqlite"), "CREATE TABLE foo(x); INSERT INTO foo VALUES(1);");
  struct Case {
    const char* what;
    std::string bytes;
  };
  // The default flags: the API key is also the peer key.
  for (const Case& c : {Case{"garbage", garbage}, Case{"another SQLite database", not_state},
                        Case{"a state.db of another index", backup.body}}) {
    uint64_t term = StatusU64(node, "term") + 1;
    uint64_t index = StatusU64(node, "commitIndex") + 1000;
    RaftPeer evil;
    ASSERT_TRUE(evil.Connect(node.port(), "evil", kKey)) << c.what;
    double refused = MetricOr(node, "concordance_snapshots_refused_total");
    ASSERT_TRUE(evil.SendSnapshot("evil", "node1", term, index, term, c.bytes.size(),
                                  storage::SnapshotChecksum(c.bytes), c.bytes))
        << c.what;
    ASSERT_TRUE(WaitFor([&] { return !node.running() || MetricOr(node, "concordance_snapshots_refused_total") > refused; },
                        std::chrono::seconds(10)))
        << c.what << "\n" << node.log();
    EXPECT_TRUE(node.running()) << c.what;
    ASSERT_TRUE(node.WaitReady()) << c.what;
  }
  ASSERT_EQ(node.Stop(), 0);
  ASSERT_TRUE(node.Start({std::string("--api-key=") + kKey}));
  ASSERT_TRUE(node.WaitReady());
  HttpResult kept = node.http().Request("GET", "/api/v1/kv/tenant:s/x/kept", "", kAuth);
  EXPECT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:s/x/after", "{\"value\":1}", kAuth).status, 200);
  node.Stop();
}

// Item 13: a snapshot announced larger than --max-snapshot-bytes is refused
// before any of it is buffered.
TEST(HardeningTest, OversizedSnapshotsAreRefusedUnbuffered) {
  TestNode node("big-snapshot");
  ASSERT_TRUE(node.Start({"--bootstrap", std::string("--api-key=") + kKey, "--max-snapshot-bytes=1048576"}));
  ASSERT_TRUE(node.WaitReady());
  RaftPeer evil;
  ASSERT_TRUE(evil.Connect(node.port(), "evil", kKey));
  uint64_t term = StatusU64(node, "term") + 1;
  std::string chunk(64 << 10, 'x');
  ASSERT_TRUE(evil.SendSnapshot("evil", "node1", term, 1000000, term, uint64_t{1} << 40, 1, chunk,
                                /*done=*/false));
  EXPECT_TRUE(WaitFor([&] { return node.log().find("refuses a snapshot of 1099511627776 bytes") != std::string::npos; },
                      std::chrono::seconds(10)))
      << node.log();
  EXPECT_TRUE(node.WaitReady());
  node.Stop();
}

// Item 3: terms and indexes at or past 2^62 are malformed: a heartbeat at
// term 2^64-1 cannot make the term wrap.
TEST(HardeningTest, AbsurdTermsAreDroppedAsMalformed) {
  TestNode node("term-overflow");
  ASSERT_TRUE(node.Start({"--bootstrap", std::string("--api-key=") + kKey}));
  ASSERT_TRUE(node.WaitReady());
  uint64_t term = StatusU64(node, "term");
  RaftPeer evil;
  ASSERT_TRUE(evil.Connect(node.port(), "evil", kKey));
  double rejected = MetricOr(node, "concordance_peer_messages_rejected_total");
  for (const char* t : {"18446744073709551615", "4611686018427387904"}) {
    ASSERT_TRUE(evil.SendText(std::string("{\"from\":\"evil\",\"to\":\"node1\",\"term\":") + t +
                              ",\"type\":\"app\",\"prevLogIndex\":0,\"prevLogTerm\":0,"
                              "\"leaderCommit\":0,\"heartbeat\":true,\"entries\":[]}"));
  }
  ASSERT_TRUE(evil.SendText("{\"from\":\"evil\",\"to\":\"node1\",\"term\":1,\"type\":\"app\","
                            "\"prevLogIndex\":4611686018427387905,\"prevLogTerm\":0,"
                            "\"leaderCommit\":0,\"entries\":[]}"));
  EXPECT_TRUE(WaitFor([&] { return MetricOr(node, "concordance_peer_messages_rejected_total") >= rejected + 3; },
                      std::chrono::seconds(5)));
  EXPECT_EQ(StatusU64(node, "term"), term);
  EXPECT_EQ(JsonString(Status(node), "role"), "leader");
  EXPECT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:t/x/k", "{\"value\":1}", kAuth).status, 200);
  node.Stop();
}

// Item 7: a string escape that decodes to invalid UTF-8 (a lone
// surrogate) is refused before it is proposed: nothing reaches the log.
TEST(HardeningTest, LoneSurrogatesNeverReachTheLog) {
  TestNode node("surrogates");
  std::string keys = KeyFile(MakeTempDir("enc"), "k1:" + std::string(64, 'a'));
  ASSERT_TRUE(node.Start({"--bootstrap", std::string("--api-key=") + kKey, "--encryption-key-file=" + keys}));
  ASSERT_TRUE(node.WaitReady());
  uint64_t commit = StatusU64(node, "commitIndex");
  for (const char* path : {"/api/v1/kv/tenant:u/s/k", "/api/v1/kv/tenant:u/credentials/k"}) {
    for (const char* body : {"{\"value\":\"\\udc00\"}", "{\"value\":{\"\\ud800x\":1}}",
                             "{\"value\":\"a\\udfffb\"}"}) {
      HttpResult r = node.http().Request("PUT", path, body, kAuth);
      EXPECT_EQ(r.status, 400) << path << " " << body << ": " << r.body;
    }
  }
  HttpResult batch = node.http().Request(
      "POST", "/api/v1/batch",
      "{\"ops\":[{\"op\":\"set\",\"namespace\":\"tenant:u/s\",\"key\":\"k\",\"value\":\"\\udc00\"}]}", kAuth);
  EXPECT_EQ(batch.status, 400) << batch.body;
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream", kAuth));
  auto set = Call(ws, 1, "kv/set", "{\"namespace\":\"tenant:u/s\",\"key\":\"k\",\"value\":\"\\udc00\"}");
  EXPECT_EQ(RpcErrorCode(set), -32602);
  EXPECT_EQ(StatusU64(node, "commitIndex"), commit) << "a refused write reached the log";
  // A valid surrogate pair is fine.
  EXPECT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:u/s/k", "{\"value\":\"\\ud83d\\ude00\"}", kAuth).status, 200);
  node.Stop();
}

// Item 8: list and changes pages are bounded by bytes too, and the usual
// continuation reaches everything.
TEST(HardeningTest, PagesAreBoundedByBytes) {
  TestNode node("page-bytes");
  ASSERT_TRUE(node.Start({"--bootstrap", std::string("--api-key=") + kKey, "--max-page-bytes=1048576"}));
  ASSERT_TRUE(node.WaitReady());
  std::string big = "\"" + std::string(300 << 10, 'v') + "\"";
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:p/s/k" + std::to_string(i), "{\"value\":" + big + "}", kAuth).status, 200);
  }
  std::set<std::string> keys;
  std::string after;
  int pages = 0;
  while (true) {
    HttpResult r = node.http().Request("GET", "/api/v1/kv/tenant:p/s/?limit=1000" + (after.empty() ? "" : "&after=" + after), "", kAuth);
    ASSERT_EQ(r.status, 200);
    EXPECT_LT(r.body.size(), 2u << 20) << "a page far over the byte bound";
    auto d = ParseJson(r.body);
    for (auto& e : d["entries"].GetArray()) keys.insert(JsonString(e, "key"));
    ++pages;
    if (!d["next"].IsString()) break;
    after = d["next"].GetString();
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(keys.size(), 10u);
  EXPECT_GE(pages, 3);
  int64_t since = 0;
  size_t changes = 0;
  pages = 0;
  while (true) {
    HttpResult r = node.http().Request("GET", "/api/v1/changes?tenant=p&limit=1000&since=" + std::to_string(since), "", kAuth);
    ASSERT_EQ(r.status, 200);
    EXPECT_LT(r.body.size(), 2u << 20);
    auto d = ParseJson(r.body);
    if (d["changes"].Size() == 0) break;
    changes += d["changes"].Size();
    since = JsonInt(d, "nextSeq");
    ASSERT_LT(++pages, 20);
  }
  EXPECT_EQ(changes, 10u);
  EXPECT_GE(pages, 3);
  node.Stop();
}

// Item 10: join takes only host:port addresses and sane node ids; nothing
// a client sends can split a log line or a header.
TEST(HardeningTest, JoinRefusesAddressesThatAreNotHostPort) {
  TestNode node("join-address");
  ASSERT_TRUE(node.Start({"--bootstrap", std::string("--api-key=") + kKey}));
  ASSERT_TRUE(node.WaitReady());
  for (const char* body : {
           "{\"nodeId\":\"n2\",\"address\":\"evil\\r\\nX-Injected: 1:4100\"}",
           "{\"nodeId\":\"n2\",\"address\":\"host:0\"}",
           "{\"nodeId\":\"n2\",\"address\":\"host:99999\"}",
           "{\"nodeId\":\"n2\",\"address\":\"a b:4100\"}",
           "{\"nodeId\":\"n2\",\"address\":\"host\"}",
           "{\"nodeId\":\"n2\",\"address\":\"[::1\\n]:4100\"}",
           "{\"nodeId\":\"n2\\r\\nX: y\",\"address\":\"127.0.0.1:4100\"}",
           "{\"nodeId\":\"\",\"address\":\"127.0.0.1:4100\"}",
       }) {
    HttpResult r = node.http().Request("POST", "/api/v1/cluster/join", body, kAuth);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
  }
  EXPECT_EQ(Status(node)["peers"].Size(), 1u);
  EXPECT_EQ(node.log().find("X-Injected"), std::string::npos) << "a client string reached the log raw";
  node.Stop();
}

// Item 12: an error message never echoes bytes that are not UTF-8.
TEST(HardeningTest, ErrorMessagesNeverEchoInvalidUtf8) {
  TestNode node("echo-utf8");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  std::string raw = node.http().Raw("GET /api/v1/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t body = raw.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos) << raw;
  EXPECT_NE(raw.find(" 404 "), std::string::npos) << raw;
  EXPECT_TRUE(storage::IsValidUtf8(raw.substr(body + 4))) << raw;
  node.Stop();
}

// Item 12: "jsonrpc" must be exactly "2.0".
TEST(HardeningTest, JsonRpcVersionIsComparedWhole) {
  TestNode node("jsonrpc-version");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream"));
  ASSERT_TRUE(ws.SendText("{\"jsonrpc\":\"2.0\\u0000junk\",\"id\":1,\"method\":\"kv/get\",\"params\":{\"namespace\":\"tenant:h/s\",\"key\":\"k\"}}"));
  std::optional<std::string> reply = ws.Receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(RpcErrorCode(ParseJson(*reply)), -32600) << *reply;
  ws.Close();
  node.Stop();
}

// Item 12: HEAD on a GET route answers as GET does, without the body.
TEST(HardeningTest, HeadAnswersLikeGetWithoutABody) {
  TestNode node("head");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:h/s/k", "{\"value\":\"hello\"}").status, 200);
  for (const char* path : {"/api/v1/kv/tenant:h/s/k", "/api/v1/health", "/api/v1/kv/tenant:h/s/"}) {
    std::string head = node.http().Raw(std::string("HEAD ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << path << ": " << head;
    EXPECT_NE(head.find("Content-Length: "), std::string::npos) << head;
    EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "") << "HEAD returned a body";
  }
  node.Stop();
}

// Item 12: the system: actor prefix is the server's own.
TEST(HardeningTest, ClientsCannotClaimASystemActor) {
  TestNode node("system-actor");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  HttpResult system = node.http().Request("PUT", "/api/v1/kv/tenant:h/s/k", "{\"value\":1}",
                                          {{"X-Concordance-Actor", "system:ttl"}});
  EXPECT_EQ(system.status, 400) << system.body;
  WsClient as_system;
  std::string error;
  EXPECT_FALSE(as_system.Connect("127.0.0.1", node.port(), "/stream", {{"X-Concordance-Actor", "SYSTEM:retention"}}, &error));
  EXPECT_NE(error.find("400"), std::string::npos) << error;
  EXPECT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:h/s/k", "{\"value\":1}", {{"X-Concordance-Actor", "user:system"}}).status, 200);
  node.Stop();
}

// Item 18: a credential this node cannot decrypt fails only its own entry.
TEST(HardeningTest, AnUndecryptableCredentialDoesNotFailItsPage) {
  TestNode node("undecryptable");
  std::string dir = MakeTempDir("enc");
  std::string keys = KeyFile(dir, "old:" + std::string(64, 'a'));
  ASSERT_TRUE(node.Start({"--bootstrap", "--encryption-key-file=" + keys}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:c/credentials/a", "{\"value\":\"secret-a\"}").status, 200);
  ASSERT_EQ(node.Stop(), 0);
  KeyFile(dir, "new:" + std::string(64, 'b'));  // the old key is gone
  ASSERT_TRUE(node.Start({"--encryption-key-file=" + keys}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:c/credentials/b", "{\"value\":\"secret-b\"}").status, 200);
  HttpResult list = node.http().Request("GET", "/api/v1/kv/tenant:c/credentials/");
  ASSERT_EQ(list.status, 200) << list.body;
  auto d = ParseJson(list.body);
  ASSERT_EQ(d["entries"].Size(), 2u) << list.body;
  const auto& a = d["entries"][0];
  EXPECT_TRUE(a["value"].IsNull()) << list.body;
  EXPECT_EQ(JsonString(a["error"], "code"), "undecryptable") << list.body;
  EXPECT_EQ(JsonString(d["entries"][1], "value"), "secret-b") << list.body;
  HttpResult changes = node.http().Request("GET", "/api/v1/changes?tenant=c&since=0");
  ASSERT_EQ(changes.status, 200) << changes.body;
  auto c = ParseJson(changes.body);
  ASSERT_EQ(c["changes"].Size(), 2u);
  EXPECT_EQ(JsonString(c["changes"][0]["error"], "code"), "undecryptable");
  EXPECT_EQ(JsonString(c["changes"][1], "value"), "secret-b");
  EXPECT_NE(node.http().Request("GET", "/api/v1/kv/tenant:c/credentials/a").status, 200);
  node.Stop();
}

// Item 9: the state hash is computed off the serving threads once per
// applied index, not on every call.
TEST(HardeningTest, StateHashIsComputedOncePerAppliedIndex) {
  TestNode node("state-hash");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:h/s/k", "{\"value\":1}").status, 200);
  std::string first = JsonString(ParseJson(node.http().Request("GET", "/api/v1/cluster/status").body), "stateHash");
  double computed = MetricOr(node, "concordance_state_hashes_computed_total", -1);
  ASSERT_GE(computed, 1);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(JsonString(ParseJson(node.http().Request("GET", "/api/v1/cluster/status").body), "stateHash"), first);
  }
  EXPECT_EQ(MetricOr(node, "concordance_state_hashes_computed_total"), computed);
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:h/s/k", "{\"value\":2}").status, 200);
  EXPECT_NE(JsonString(ParseJson(node.http().Request("GET", "/api/v1/cluster/status").body), "stateHash"), first);
  EXPECT_EQ(MetricOr(node, "concordance_state_hashes_computed_total"), computed + 1);
  node.Stop();
}

// Item 17: concurrent linearizable reads share ReadIndex rounds.
TEST(HardeningTest, LinearizableReadsAreBatched) {
  TestNode node("read-batch");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:r/s/k", "{\"value\":1}").status, 200);
  double rounds = MetricOr(node, "concordance_raft_read_index_rounds_total", -1);
  ASSERT_GE(rounds, 0);
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream"));
  std::string batch = "[";
  for (int i = 0; i < 64; ++i) {
    batch += std::string(i ? "," : "") + "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
             ",\"method\":\"kv/get\",\"params\":{\"namespace\":\"tenant:r/s\",\"key\":\"k\",\"consistency\":\"linearizable\"}}";
  }
  ASSERT_TRUE(ws.SendText(batch + "]"));
  std::optional<std::string> reply = ws.Receive(std::chrono::seconds(10));
  ASSERT_TRUE(reply.has_value());
  auto d = ParseJson(*reply);
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 64u);
  for (auto& r : d.GetArray()) EXPECT_TRUE(r.HasMember("result")) << *reply;
  double used = MetricOr(node, "concordance_raft_read_index_rounds_total") - rounds;
  EXPECT_GE(used, 1);
  EXPECT_LE(used, 8) << "each read started its own round";
  node.Stop();
}

}  // namespace
}  // namespace concordance::testing
