// What an operator can see of a node (design.md §14): its version and
// commit (--version, status, /metrics), a --help that leads with
// Concordance's flags and exits 0, leadership transfers that answer with the
// new leader, and WARNING lines that repeat while a peer is unreachable or
// the quorum is lost.
#include <sys/wait.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/lib/cluster.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

std::string ReadVersionFile() {
  std::ifstream in(RunfilePath("VERSION"));
  std::string v;
  in >> v;
  return v;
}

// Runs the binary with `flag` alone; its output and exit status.
std::pair<std::string, int> RunWith(const std::string& flag) {
  std::string log = MakeTempDir("run") + "/out.log";
  Process p;
  EXPECT_TRUE(p.Start(ConcordanceBinary(), {flag}, log));
  int status = p.Wait(std::chrono::seconds(10));
  return {p.ReadLog(), WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(VisibilityTest, VersionPrintsTheVersionAndTheCommit) {
  std::string version = ReadVersionFile();
  ASSERT_FALSE(version.empty());
  auto [out, rc] = RunWith("--version");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(std::regex_match(out, std::regex("concordance " + std::regex_replace(version, std::regex("\\."), "\\.") +
                                               " \\(commit ([0-9a-f]{12}|unknown)\\)\n")))
      << out;
}

TEST(VisibilityTest, HelpListsConcordancesFlagsFirstAndExitsZero) {
  auto [out, rc] = RunWith("--help");
  EXPECT_EQ(rc, 0);
  size_t first_flag = out.find("  --");
  ASSERT_NE(first_flag, std::string::npos) << out;
  for (const char* ours : {"--listen", "--data-dir", "--bootstrap", "--join", "--api-key-file",
                           "--peer-warning-interval-ms", "--max-connections"}) {
    EXPECT_NE(out.find(std::string("  ") + ours + " (default"), std::string::npos) << ours;
  }
  // The logging library's flags are not listed (only pointed to), and no
  // gflags housekeeping flags either.
  EXPECT_EQ(out.find("--logbuflevel"), std::string::npos) << out;
  EXPECT_EQ(out.find("--flagfile"), std::string::npos) << out;
  EXPECT_LT(Count(out, "\n"), 120u);  // ours only (glog and gflags add hundreds)
}

// Every member's version in every node's status, and build info in /metrics.
TEST(VisibilityTest, StatusShowsEveryMembersVersionAndMetricsTheBuild) {
  std::string version = ReadVersionFile();
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  ASSERT_GE(c.WaitLeader(), 0);
  for (int i = 0; i < 3; ++i) {
    std::string last;
    EXPECT_TRUE(WaitFor(
        [&] {
          rapidjson::Document st = c.Status(i);
          if (!st.IsObject() || !st.HasMember("peers")) return false;
          last = JsonString(st, "version");
          if (last != version) return false;
          int with_version = 0;
          for (const auto& p : st["peers"].GetArray()) with_version += JsonString(p, "version") == version;
          return with_version == 3;
        },
        std::chrono::seconds(10)))
        << "node " << i << " version " << last;
  }
  auto metrics = c.node(0).http().Request("GET", "/metrics", "", c.Auth());
  EXPECT_TRUE(std::regex_search(metrics.body,
                                std::regex("concordance_build_info\\{version=\"" + version +
                                           "\",commit=\"([0-9a-f]{12}|unknown)\"\\} 1\n")))
      << metrics.body.substr(0, 2000);
}

// transfer-leadership answers once the new leader leads, naming it; asked
// of the node that leads already, it is a no-op success.
TEST(VisibilityTest, TransferAnswersWithTheNewLeaderAndToTheLeaderIsANoOp) {
  // etcd's timing: no spurious election on a loaded machine moves the leader
  // elsewhere mid-test (the answer must name the node asked for).
  TestCluster c({"--heartbeat-ms=100", "--election-timeout-min-ms=1000", "--election-timeout-max-ms=2000"});
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  HttpResult same = c.Request(leader, "POST", "/api/v1/cluster/transfer-leadership",
                              "{\"nodeId\":\"" + c.id(leader) + "\"}");
  ASSERT_EQ(same.status, 200) << same.body;
  rapidjson::Document d = ParseJson(same.body);
  EXPECT_EQ(JsonString(d["leader"], "nodeId"), c.id(leader));
  int target = (leader + 1) % 3;
  HttpResult moved = c.Request(leader, "POST", "/api/v1/cluster/transfer-leadership",
                               "{\"nodeId\":\"" + c.id(target) + "\"}");
  ASSERT_EQ(moved.status, 200) << moved.body;
  d = ParseJson(moved.body);
  EXPECT_EQ(JsonString(d["leader"], "nodeId"), c.id(target)) << moved.body;
  EXPECT_EQ(c.WaitLeader(), target);
}

// While a peer is down its name repeats in WARNING lines (rate-limited);
// when a second one goes the quorum is reported lost, naming both.
TEST(VisibilityTest, UnreachablePeersAndALostQuorumAreWarnedAboutUntilTheyReturn) {
  TestCluster c({"--peer-warning-interval-ms=300"});
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int a = (leader + 1) % 3, b = (leader + 2) % 3;
  c.node(a).Kill();
  std::string about_a = "peer " + c.id(a) + " at " + c.node(a).address() + " is unreachable";
  EXPECT_TRUE(WaitFor([&] { return Count(c.node(leader).log(), about_a) >= 2; }, std::chrono::seconds(15)))
      << "the warning about " << c.id(a) << " did not repeat";
  c.node(b).Kill();
  EXPECT_TRUE(WaitFor([&] { return c.node(leader).log().find("quorum lost: 1 of 3 voters reachable") != std::string::npos; },
                      std::chrono::seconds(15)))
      << c.node(leader).log().substr(0, 4000);
  std::string log = c.node(leader).log();
  size_t at = log.find("quorum lost");
  ASSERT_NE(at, std::string::npos);
  std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(line.find(c.id(a)), std::string::npos) << line;
  EXPECT_NE(line.find(c.id(b)), std::string::npos) << line;
  ASSERT_TRUE(c.Restart(a));
  std::string back = "peer " + c.id(a) + " at " + c.node(a).address() + " is reachable again";
  EXPECT_TRUE(WaitFor([&] { return c.node(leader).log().find(back) != std::string::npos; }, std::chrono::seconds(15)));
}

}  // namespace
}  // namespace concordance::testing
