// The data semantics of issue 6 against a real process: CAS under a race,
// resumable watch under concurrent writes, changelog retention, tenant
// isolation, and credentials that never touch the disk in plaintext.
#include <dirent.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tests/lib/node.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

TEST(CasTest, TwoClientsRacingIncrementsNeverWinTheSameVersion) {
  TestNode node("cas");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  const std::string key = "/api/v1/kv/tenant:cas/s/counter";
  ASSERT_EQ(node.http().Request("PUT", key, "{\"value\":0,\"expectedVersion\":0}").status, 200);
  constexpr int kAttempts = 1000;
  std::vector<int64_t> won[2];
  int conflicts[2] = {0, 0};
  auto client = [&](int c) {
    HttpClient http("127.0.0.1", node.port());
    for (int i = 0; i < kAttempts; ++i) {
      auto cur = ParseJson(http.Request("GET", key).body);
      int64_t version = JsonInt(cur, "version"), value = JsonInt(cur, "value");
      HttpResult r = http.Request("PUT", key,
                                  "{\"value\":" + std::to_string(value + 1) +
                                      ",\"expectedVersion\":" + std::to_string(version) + "}");
      if (r.status == 200) {
        won[c].push_back(JsonInt(ParseJson(r.body), "version"));
      } else {
        ASSERT_EQ(r.status, 409) << r.body;
        EXPECT_GE(JsonInt(ParseJson(r.body)["error"], "currentVersion"), version + 1);
        ++conflicts[c];
      }
    }
  };
  std::thread a(client, 0), b(client, 1);
  a.join();
  b.join();
  size_t successes = won[0].size() + won[1].size();
  std::set<int64_t> versions(won[0].begin(), won[0].end());
  versions.insert(won[1].begin(), won[1].end());
  EXPECT_EQ(versions.size(), successes) << "a version was won twice";
  auto final_entry = ParseJson(node.http().Request("GET", key).body);
  EXPECT_EQ(JsonInt(final_entry, "value"), static_cast<int64_t>(successes));
  EXPECT_EQ(JsonInt(final_entry, "version"), static_cast<int64_t>(successes) + 1);
  printf("CAS race: %zu + %zu increments won, %d + %d conflicts\n", won[0].size(), won[1].size(),
         conflicts[0], conflicts[1]);
  EXPECT_GT(conflicts[0] + conflicts[1], 0) << "the clients never actually raced";
  node.Stop();
}

TEST(WatchTest, FromSeqWhileWritingSeesEverySeqOnceInOrder) {
  TestNode node("fromseq");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> last_seq{0};
  std::thread writer([&] {
    HttpClient http("127.0.0.1", node.port());
    for (int i = 0; !stop; ++i) {
      HttpResult r = http.Request("PUT", "/api/v1/kv/tenant:w/s/k" + std::to_string(i % 50),
                                  "{\"value\":" + std::to_string(i) + "}");
      if (r.status == 200) last_seq = JsonInt(ParseJson(r.body), "seq");
    }
  });
  ASSERT_TRUE(WaitFor([&] { return last_seq.load() >= 200; }, std::chrono::seconds(10)));
  // Subscribe from a point in the past while the writer keeps going.
  int64_t from = last_seq.load() - 150;
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream"));
  std::vector<std::string> early;
  auto sub = Call(ws, 1, "watch/subscribe", "{\"tenant\":\"w\",\"fromSeq\":" + std::to_string(from) + "}", &early);
  ASSERT_TRUE(sub.HasMember("result"));
  EXPECT_TRUE(early.empty()) << "changes arrived before the subscribe result";
  ASSERT_TRUE(WaitFor([&] { return last_seq.load() >= from + 600; }, std::chrono::seconds(20)));
  stop = true;
  writer.join();
  int64_t final_seq = last_seq.load();
  int64_t expect = from + 1;
  while (expect <= final_seq) {
    std::optional<std::string> m = ws.Receive(std::chrono::seconds(5));
    ASSERT_TRUE(m.has_value()) << "missing seq " << expect;
    int64_t seq = JsonInt(ParseJson(*m)["params"], "seq");
    ASSERT_EQ(seq, expect) << "gap or duplicate";
    ++expect;
  }
  EXPECT_FALSE(ws.Receive(std::chrono::milliseconds(200)).has_value()) << "a duplicate after the end";
  node.Stop();
}

TEST(RetentionTest, TrimmedThroughTheLogAndReportedAsCompacted) {
  TestNode node("retention");
  ASSERT_TRUE(node.Start({"--bootstrap", "--changelog-retention=50"}));
  ASSERT_TRUE(node.WaitReady());
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:r/s/k", "{\"value\":" + std::to_string(i) + "}").status, 200);
  }
  // The leader proposes the trim within a second or two (maybe a first one
  // while the writes were still going on).
  rapidjson::Document c;
  ASSERT_TRUE(WaitFor(
      [&] {
        HttpResult r = node.http().Request("GET", "/api/v1/changes?tenant=r&since=0");
        c = ParseJson(r.body);
        return r.status == 410 && JsonInt(c["error"], "oldestSeq") == 201 - 50;
      },
      std::chrono::seconds(8)))
      << JsonInt(c["error"], "oldestSeq");
  EXPECT_EQ(JsonString(c["error"], "code"), "compacted");
  int64_t oldest = JsonInt(c["error"], "oldestSeq");
  EXPECT_EQ(oldest, 201 - 50);
  auto ok = ParseJson(node.http().Request("GET", "/api/v1/changes?tenant=r&since=" + std::to_string(oldest - 1)).body);
  EXPECT_EQ(ok["changes"].Size(), 50u);
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream"));
  auto sub = Call(ws, 1, "watch/subscribe", "{\"tenant\":\"r\",\"fromSeq\":3}");
  EXPECT_EQ(RpcErrorCode(sub), -32006);
  EXPECT_EQ(JsonInt(sub["error"]["data"], "oldestSeq"), oldest);
  // seq keeps rising after trims.
  EXPECT_EQ(JsonInt(ParseJson(node.http().Request("PUT", "/api/v1/kv/tenant:r/s/k", "{\"value\":1}").body), "seq"), 201);
  node.Stop();
}

TEST(TenantTest, ChangesAndWatchesNeverCrossTenants) {
  TestNode node("tenants");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  WsClient a_tenant, a_ns;
  ASSERT_TRUE(a_tenant.Connect("127.0.0.1", node.port(), "/stream"));
  ASSERT_TRUE(a_ns.Connect("127.0.0.1", node.port(), "/stream"));
  ASSERT_TRUE(Call(a_tenant, 1, "watch/subscribe", "{\"tenant\":\"acme\"}").HasMember("result"));
  ASSERT_TRUE(Call(a_ns, 1, "watch/subscribe", "{\"namespace\":\"tenant:acme/settings\"}").HasMember("result"));
  // "acmeB" and "b" must never leak into "acme" (prefix confusion included).
  for (const char* ns : {"tenant:acmeB/settings", "tenant:b/settings", "tenant:acme/settings",
                         "tenant:acme/user:u1/preferences", "tenant:acme-x/settings"}) {
    ASSERT_EQ(node.http().Request("PUT", std::string("/api/v1/kv/") + ns + "/k", "{\"value\":1}").status, 200);
  }
  auto changes = ParseJson(node.http().Request("GET", "/api/v1/changes?tenant=acme&since=0").body);
  ASSERT_EQ(changes["changes"].Size(), 2u);
  for (auto& ev : changes["changes"].GetArray()) EXPECT_EQ(JsonString(ev, "tenantId"), "acme");
  auto by_ns = ParseJson(node.http().Request("GET", "/api/v1/changes?namespace=tenant:acme/settings&since=0").body);
  ASSERT_EQ(by_ns["changes"].Size(), 1u);
  std::vector<std::string> seen;
  while (auto m = a_tenant.Receive(std::chrono::milliseconds(500))) seen.push_back(*m);
  ASSERT_EQ(seen.size(), 2u);
  for (const std::string& m : seen) EXPECT_EQ(JsonString(ParseJson(m)["params"], "tenantId"), "acme");
  seen.clear();
  while (auto m = a_ns.Receive(std::chrono::milliseconds(500))) seen.push_back(*m);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(JsonString(ParseJson(seen[0])["params"], "namespace"), "tenant:acme/settings");
  node.Stop();
}

// Every file under `dir`, read whole.
std::vector<std::pair<std::string, std::string>> ReadAll(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    out.emplace_back(f.path().string(), std::string(std::istreambuf_iterator<char>(in), {}));
  }
  return out;
}

void WriteKeys(const std::string& path, const std::string& lines) {
  std::ofstream f(path);
  f << lines;
}

TEST(CredentialsTest, PlaintextNeverReachesTheDataDir) {
  TestNode node("secrets");
  std::string keys = node.data_dir() + "-keys";
  WriteKeys(keys, "k1:" + std::string(64, 'a') + "\n");
  ASSERT_TRUE(node.Start({"--bootstrap", "--encryption-key-file=" + keys, "--snapshot-threshold=20"}));
  ASSERT_TRUE(node.WaitReady());
  const std::string secret = "PLAINTEXT-SECRET-7f3a9c51";
  WsClient watcher;
  ASSERT_TRUE(watcher.Connect("127.0.0.1", node.port(), "/stream"));
  ASSERT_TRUE(Call(watcher, 1, "watch/subscribe", "{\"namespace\":\"tenant:acme/credentials\"}").HasMember("result"));
  HttpResult w = node.http().Request("PUT", "/api/v1/kv/tenant:acme/credentials/slack",
                                     "{\"value\":{\"token\":\"" + secret + "\"}}");
  ASSERT_EQ(w.status, 200) << w.body;
  // Enough writes for a snapshot (and log compaction) to include it.
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:acme/settings/k" + std::to_string(i), "{\"value\":1}").status, 200);
  }
  // Read back through every API path: plaintext.
  auto e = ParseJson(node.http().Request("GET", "/api/v1/kv/tenant:acme/credentials/slack").body);
  EXPECT_EQ(JsonString(e["value"], "token"), secret);
  auto list = ParseJson(node.http().Request("GET", "/api/v1/kv/tenant:acme/credentials/").body);
  EXPECT_EQ(JsonString(list["entries"][0]["value"], "token"), secret);
  auto changes = ParseJson(node.http().Request("GET", "/api/v1/changes?namespace=tenant:acme/credentials&since=0").body);
  EXPECT_EQ(JsonString(changes["changes"][0]["value"], "token"), secret);
  std::optional<std::string> note = watcher.Receive();
  ASSERT_TRUE(note.has_value());
  EXPECT_EQ(JsonString(ParseJson(*note)["params"]["value"], "token"), secret);
  // The log compacts (its entries held the secret as proposed)...
  ASSERT_TRUE(WaitFor([&] {
    std::string m = node.http().Request("GET", "/metrics").body;
    return m.find("\nconcordance_raft_log_compactions_total 0\n") == std::string::npos &&
           m.find("\nconcordance_raft_log_compactions_total ") != std::string::npos;
  }, std::chrono::seconds(5)));
  // ...and a snapshot image (the same serialization a follower is sent)
  // holds only ciphertext.
  HttpResult image = node.http().Request("GET", "/api/v1/snapshot");
  ASSERT_EQ(image.status, 200);
  EXPECT_GT(image.body.size(), 4096u);
  EXPECT_EQ(image.body.find(secret), std::string::npos) << "plaintext in a snapshot image";
  // While running (WAL files included) and after a clean stop: nowhere.
  for (int pass = 0; pass < 2; ++pass) {
    auto files = ReadAll(node.data_dir());
    bool saw_wal = false;
    for (const auto& [path, bytes] : files) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << "plaintext found in " << path;
      saw_wal |= path.find("-wal") != std::string::npos;
    }
    if (pass == 0) {
      EXPECT_TRUE(saw_wal);
      ASSERT_EQ(node.Stop(), 0);
    }
  }
  // Rotation: a new key first, the old one kept — old values still read,
  // new writes use the new key.
  WriteKeys(keys, "k2:" + std::string(64, 'b') + "\nk1:" + std::string(64, 'a') + "\n");
  ASSERT_TRUE(node.Start({"--encryption-key-file=" + keys}));
  ASSERT_TRUE(node.WaitReady());
  e = ParseJson(node.http().Request("GET", "/api/v1/kv/tenant:acme/credentials/slack").body);
  EXPECT_EQ(JsonString(e["value"], "token"), secret);
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:acme/credentials/github", "{\"value\":\"ghp\"}").status, 200);
  ASSERT_EQ(node.Stop(), 0);
  // Without the old key: a clear error, never garbage; still readable keys work.
  WriteKeys(keys, "k2:" + std::string(64, 'b') + "\n");
  ASSERT_TRUE(node.Start({"--encryption-key-file=" + keys}));
  ASSERT_TRUE(node.WaitReady());
  HttpResult lost = node.http().Request("GET", "/api/v1/kv/tenant:acme/credentials/slack");
  EXPECT_EQ(lost.status, 400) << lost.body;
  EXPECT_NE(lost.body.find("\\\"k1\\\""), std::string::npos) << lost.body;
  EXPECT_EQ(lost.body.find(secret), std::string::npos);
  EXPECT_EQ(JsonString(ParseJson(node.http().Request("GET", "/api/v1/kv/tenant:acme/credentials/github").body), "value"), "ghp");
  ASSERT_EQ(node.Stop(), 0);
  // No key at all: credentials writes are refused; other namespaces work.
  ASSERT_TRUE(node.Start({}));
  ASSERT_TRUE(node.WaitReady());
  HttpResult refused = node.http().Request("PUT", "/api/v1/kv/tenant:acme/credentials/x", "{\"value\":1}");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("--encryption-key-file"), std::string::npos);
  EXPECT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:acme/settings/x", "{\"value\":1}").status, 200);
  node.Stop();
}

}  // namespace
}  // namespace concordance::testing
