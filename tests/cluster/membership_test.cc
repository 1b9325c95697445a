// Operations of seed 003 with real processes: replacing a failed node and
// the rolling upgrade, with a client writing throughout.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tests/lib/cluster.h"

namespace concordance::testing {
namespace {

// Writes unique keys as fast as it can through whichever node answers,
// following redirects, and records what was acknowledged.
class Writer {
 public:
  explicit Writer(TestCluster* c) : c_(c) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> acked() {
    std::lock_guard<std::mutex> l(mu_);
    return acked_;
  }
  int failures() const { return failures_; }

 private:
  void Run() {
    int n = 0, node = 0;
    while (!stop_) {
      std::string key = "w" + std::to_string(n++);
      HttpResult r;
      for (int tries = 0; tries < c_->size() && !stop_; ++tries) {
        int i = (node + tries) % c_->size();
        if (!c_->node(i).running()) continue;
        r = c_->Request(i, "PUT", "/api/v1/kv/tenant:roll/s/" + key, "{\"value\":1}");
        if (r.status != 0) {
          node = i;
          break;
        }
      }
      if (r.status == 200) {
        std::lock_guard<std::mutex> l(mu_);
        acked_.push_back(key);
      } else {
        ++failures_;
      }
    }
  }
  TestCluster* c_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> acked_;
  std::atomic<int> failures_{0};
};

// A cluster-management call retried while it answers 503 (retryable: e.g.
// a new leader that has not committed in its term yet), as an operator's
// script would.
HttpResult Manage(TestCluster& c, int via, const std::string& target, const std::string& body) {
  HttpResult r;
  WaitFor(
      [&] {
        r = c.Request(via, "POST", target, body);
        if (r.status == 503) printf("retrying %s %s: %s\n", target.c_str(), body.c_str(), r.body.c_str());
        return r.status != 503;
      },
      std::chrono::seconds(10));
  return r;
}

int Find(TestCluster& c, const std::string& id) {
  for (int i = 0; i < c.size(); ++i) {
    if (c.id(i) == id) return i;
  }
  return -1;
}

TEST(MembershipTest, ReplaceFailedNodeCatchesUpBySnapshot) {
  TestCluster c({"--snapshot-threshold=50"});
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(c.Request(leader, "PUT", "/api/v1/kv/tenant:rep/s/k" + std::to_string(i % 40),
                        "{\"value\":" + std::to_string(i) + "}").status, 200);
  }
  int failed = (leader + 2) % 3;
  c.node(failed).Kill();
  // Seed 003: remove the dead node, start a replacement with a new id and an
  // empty data dir, pointed at a member with --join.
  HttpResult r = Manage(c, leader, "/api/v1/cluster/remove", "{\"nodeId\":\"" + c.id(failed) + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  TestNode* fresh = c.AddNode(c.id(failed) + "-new", (leader + 1) % 3);
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(c.WaitVoters(3));
  std::string detail;
  ASSERT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
  EXPECT_NE(fresh->log().find("installs a snapshot"), std::string::npos)
      << "the replacement caught up without a snapshot";
  auto e = ParseJson(fresh->http().Request("GET", "/api/v1/kv/tenant:rep/s/k39", "", c.Auth()).body);
  EXPECT_EQ(JsonInt(e, "value"), 279);  // k39 was last written at i = 279
  auto s = c.Status(leader);
  for (auto& p : s["peers"].GetArray()) EXPECT_NE(JsonString(p, "nodeId"), c.id(failed));
}

TEST(MembershipTest, RollingUpgradeWithAClientWritingThroughout) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  ASSERT_GE(c.WaitLeader(), 0);
  Writer writer(&c);
  auto upgrade = [&](const std::string& id) {
    int i = Find(c, id);
    int helper = (i + 1) % 3;
    // 1. Remove it (through any member; redirected to the leader).
    HttpResult r = Manage(c, helper, "/api/v1/cluster/remove", "{\"nodeId\":\"" + id + "\"}");
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(c.WaitVoters(2)) << "after removing " << id;
    // 2. Stop it, "upgrade the binary", restart it with --join.
    ASSERT_EQ(c.node(i).Stop(), 0) << id << " did not stop cleanly";
    ASSERT_TRUE(c.Restart(i, {"--join=" + c.node(helper).address()}));
    ASSERT_TRUE(c.WaitVoters(3)) << id << " did not come back as a voter";
  };
  upgrade("node3");
  upgrade("node2");
  // 3. Move leadership off node1, then upgrade it the same way.
  int n1 = Find(c, "node1");
  if (c.WaitLeader() == n1) {
    HttpResult t = Manage(c, n1, "/api/v1/cluster/transfer-leadership", "{}");
    ASSERT_EQ(t.status, 200) << t.body;
  }
  upgrade("node1");
  writer.Stop();
  std::vector<std::string> acked = writer.acked();
  printf("rolling upgrade: %zu writes acknowledged, %d failed or retried\n", acked.size(), writer.failures());
  ASSERT_GT(acked.size(), 50u) << "the writer made too little progress to mean anything";
  std::string detail;
  ASSERT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
  int leader = c.WaitLeader();
  auto list = ParseJson(c.Request(leader, "GET", "/api/v1/kv/tenant:roll/s/?limit=1000").body);
  std::set<std::string> present;
  std::string next;
  while (true) {
    auto page = ParseJson(c.Request(leader, "GET", "/api/v1/kv/tenant:roll/s/?limit=1000" +
                                                       (next.empty() ? "" : "&after=" + next)).body);
    for (auto& e : page["entries"].GetArray()) present.insert(JsonString(e, "key"));
    if (!page["next"].IsString()) break;
    next = page["next"].GetString();
  }
  int missing = 0;
  for (const std::string& k : acked) missing += present.count(k) ? 0 : 1;
  EXPECT_EQ(missing, 0) << missing << " acknowledged writes are missing";
}

}  // namespace
}  // namespace concordance::testing
