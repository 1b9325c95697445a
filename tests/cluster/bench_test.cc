// concordance-bench against a real 3-node cluster, its figures checked
// against the servers' own counters in /metrics: what it says it did, the
// servers saw.
#include <signal.h>
#include <sys/wait.h>

#include <sstream>

#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/lib/cluster.h"

namespace concordance::testing {
namespace {

// The value of the metric line starting `series ` (name and labels exactly).
double Metric(TestCluster& c, int node, const std::string& series) {
  std::string body = c.node(node).http().Request("GET", "/metrics", "", c.Auth()).body;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

// Summed over the nodes: what every leader of the run accepted.
double SumOverNodes(TestCluster& c, const std::string& series) {
  double sum = 0;
  for (int i = 0; i < c.size(); ++i) sum += Metric(c, i, series);
  return sum;
}

// Runs concordance-bench with `args` (plus the key and --json); its JSON.
rapidjson::Document RunBench(std::vector<std::string> args) {
  args.push_back(std::string("--api-key=") + TestCluster::kApiKey);
  args.push_back("--json");
  args.push_back("--progress=never");
  std::string log = MakeTempDir("bench") + "/bench.log";
  Process p;
  EXPECT_TRUE(p.Start(RunfilePath("tools/concordance-bench"), args, log));
  int status = p.Wait(std::chrono::seconds(60));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << p.ReadLog();
  std::istringstream lines(p.ReadLog());
  std::string line;
  rapidjson::Document d;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == '{') d.Parse(line.c_str());
  }
  EXPECT_TRUE(d.IsObject()) << p.ReadLog();
  return d;
}

// etcd's timing, so that no spurious election on a loaded machine moves
// the leader during a run (a moved leader would turn writes into redirects).
const std::vector<std::string> kSteadyTiming = {"--heartbeat-ms=100", "--election-timeout-min-ms=1000",
                                                "--election-timeout-max-ms=2000"};

int64_t Int(const rapidjson::Document& d, const char* name) {
  return d.IsObject() && d.HasMember(name) && d[name].IsNumber() ? d[name].GetInt64() : -1;
}

TEST(BenchTest, HelpListsItsOwnFlagsAndExitsZero) {
  std::string log = MakeTempDir("help") + "/help.log";
  Process p;
  ASSERT_TRUE(p.Start(RunfilePath("tools/concordance-bench"), {"--help"}, log));
  int status = p.Wait(std::chrono::seconds(10));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string out = p.ReadLog();
  for (const char* flag : {"--workload", "--protocol", "--rate", "--subscribers", "--watch-shape"}) {
    EXPECT_NE(out.find(std::string("  ") + flag + " (default"), std::string::npos) << flag << "\n" << out;
  }
  EXPECT_EQ(out.find("--flagfile"), std::string::npos) << "no gflags housekeeping flags";
}

TEST(BenchTest, APutRunMatchesTheLeadersProposalsAndRequests) {
  TestCluster c(kSteadyTiming);
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  double proposals = SumOverNodes(c, "concordance_raft_proposals_total");
  rapidjson::Document grpc = RunBench({"--endpoints=" + c.node(leader).address(), "--protocol=grpc",
                                       "--workload=put", "--total=400", "--connections=2", "--clients=4"});
  EXPECT_EQ(Int(grpc, "ok"), 400);
  EXPECT_EQ(Int(grpc, "errors"), 0);
  EXPECT_EQ(SumOverNodes(c, "concordance_raft_proposals_total") - proposals, 400)
      << "the leader accepted as many writes as the tool counted";

  const std::string put_200 = "concordance_http_requests_total{route=\"kv_put\",method=\"PUT\",code=\"200\"}";
  double puts = SumOverNodes(c, put_200);
  rapidjson::Document http = RunBench({"--endpoints=" + c.node(leader).address(), "--protocol=http",
                                       "--workload=put", "--duration=1", "--connections=3"});
  EXPECT_GT(Int(http, "ok"), 0);
  EXPECT_EQ(Int(http, "errors"), 0);
  EXPECT_EQ(SumOverNodes(c, put_200) - puts, Int(http, "ok"));
}

TEST(BenchTest, AWatchLatencyRunMatchesTheDeliveredChanges) {
  TestCluster c(kSteadyTiming);
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  const std::string delivered = "concordance_watch_changes_delivered_total";
  double before = SumOverNodes(c, delivered);
  double proposals = SumOverNodes(c, "concordance_raft_proposals_total");
  std::string endpoints = "--endpoints=" + c.node(0).address() + "," + c.node(1).address() + "," +
                          c.node(2).address();
  for (const char* shape : {"spread", "fanout"}) {
    rapidjson::Document r = RunBench({endpoints, "--workload=watch-latency", std::string("--watch-shape=") + shape,
                                      "--subscribers=10", "--rate=100", "--duration=1.5", "--writers=2"});
    int64_t writes = Int(r, "writes");
    EXPECT_GT(writes, 50) << shape;
    EXPECT_EQ(Int(r, "write_errors"), 0) << shape;
    EXPECT_EQ(Int(r, "expected"), std::string(shape) == "spread" ? writes : 10 * writes) << shape;
    EXPECT_EQ(Int(r, "received"), Int(r, "expected")) << shape << ": every notification arrived";
    double now = SumOverNodes(c, delivered);
    EXPECT_EQ(now - before, Int(r, "received")) << shape << ": the nodes delivered what the tool received";
    before = now;
    double p = SumOverNodes(c, "concordance_raft_proposals_total");
    EXPECT_EQ(p - proposals, writes) << shape;
    proposals = p;
  }
  // The baseline for "what do subscribers cost the write rate": none, and
  // writers as fast as answered.
  rapidjson::Document r = RunBench({endpoints, "--workload=watch-latency", "--watch-shape=spread",
                                    "--subscribers=0", "--rate=0", "--duration=1", "--writers=2"});
  EXPECT_GT(Int(r, "writes"), 0);
  EXPECT_EQ(Int(r, "expected"), 0) << "no subscriber expects a notification";
  EXPECT_EQ(SumOverNodes(c, "concordance_raft_proposals_total") - proposals, Int(r, "writes"));
}

// A server that stops answering costs each request its deadline: the run
// ends on time with errors, over every protocol, instead of hanging.
TEST(BenchTest, AServerThatStopsAnsweringEndsRequestsAtTheirDeadline) {
  for (const char* protocol : {"http", "websocket", "grpc"}) {
    // A cluster each: the pause of one protocol's run leaves an election
    // behind that the next must not run into.
    TestCluster c(kSteadyTiming);
    ASSERT_TRUE(c.Start(3));
    int leader = c.WaitLeader();
    ASSERT_GE(leader, 0);
    double before = SumOverNodes(c, "concordance_raft_proposals_total");
    Process p;
    std::string log = MakeTempDir("stopped") + "/bench.log";
    ASSERT_TRUE(p.Start(RunfilePath("tools/concordance-bench"),
                        {"--endpoints=" + c.node(leader).address(), std::string("--protocol=") + protocol,
                         "--duration=3", "--timeout-ms=300", "--connections=1", "--progress=never", "--json",
                         std::string("--api-key=") + TestCluster::kApiKey},
                        log));
    // Once it is writing (so connected), the leader stops.
    ASSERT_TRUE(WaitFor([&] { return SumOverNodes(c, "concordance_raft_proposals_total") > before + 10; },
                        std::chrono::seconds(10)))
        << protocol;
    c.node(leader).Signal(SIGSTOP);
    int status = p.Wait(std::chrono::seconds(20));
    c.node(leader).Signal(SIGCONT);
    ASSERT_NE(status, -1) << protocol << ": the run did not end";
    std::istringstream lines(p.ReadLog());
    std::string line;
    rapidjson::Document d;
    while (std::getline(lines, line)) {
      if (!line.empty() && line[0] == '{') d.Parse(line.c_str());
    }
    ASSERT_TRUE(d.IsObject()) << protocol << ": " << p.ReadLog();
    EXPECT_GT(Int(d, "errors"), 0) << protocol;
  }
}

}  // namespace
}  // namespace concordance::testing
