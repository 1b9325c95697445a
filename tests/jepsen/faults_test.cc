// Real clusters under faults, judged by their histories: clients issue
// linearizable gets, puts, CAS and deletes over REST and gRPC while a nemesis
// kills and pauses nodes; afterwards the history must be linearizable
// (every acknowledged write present or superseded: the final reads are part
// of it) and the nodes must converge to one state hash.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "gtest/gtest.h"
#include "tests/jepsen/history_client.h"
#include "tests/jepsen/linearizability.h"
#include "tests/jepsen/peer_network.h"
#include "tests/jepsen/watch_recorder.h"
#include "tests/lib/cluster.h"
#include "tests/lib/fault_tally.h"
#include "tools/client/client.h"

namespace concordance::jepsen {
namespace {

using testing::TestCluster;
using testing::WaitFor;
using std::chrono::milliseconds;

constexpr int kKeys = 50;  // independent keys keep each key's search small (Jepsen's "independent")
constexpr int kClients = 4;

struct RunResult {
  std::vector<Operation> history;
  int indeterminate = 0;
};

// Clients run until `stop`; then every key is read once more.
RunResult RunClients(TestCluster& c, const std::string& ns, const std::atomic<bool>& stop, uint32_t seed) {
  std::vector<int> ports;
  std::vector<std::string> addresses;
  for (int i = 0; i < c.size(); ++i) {
    ports.push_back(c.node(i).port());
    addresses.push_back(c.node(i).address());
  }
  // Half the clients speak REST, half gRPC, on the same keys.
  std::vector<std::unique_ptr<HistoryClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<HistoryClient>(
        i, i % 2 == 0 ? RestTransport(ports, ns, c.Auth()) : GrpcTransport(addresses, ns, TestCluster::kApiKey)));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::minstd_rand rng(seed * 1000 + i);
      while (!stop.load()) clients[i]->RandomOperation(&rng, kKeys);
    });
  }
  for (auto& t : threads) t.join();
  RunResult run;
  for (int k = 0; k < kKeys; ++k) {
    // The final reads must answer: retry until one does (they are reads).
    EXPECT_TRUE(WaitFor([&] { return clients[0]->Get("k" + std::to_string(k)).outcome != Outcome::kIndeterminate; },
                        std::chrono::seconds(20)));
  }
  for (auto& cl : clients) {
    for (const Operation& op : cl->history()) {
      run.history.push_back(op);
      run.indeterminate += op.outcome == Outcome::kIndeterminate && op.kind != OpKind::kGet;
    }
  }
  return run;
}

// The operations of `key`, one per line, into the test's outputs (kept by
// Bazel in bazel-testlogs/.../test.outputs) for reading a failure.
void SaveHistoryOf(const std::vector<Operation>& history, const std::string& key) {
  const char* dir = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (dir == nullptr) return;
  std::ofstream out(std::string(dir) + "/history-" + key + ".txt");
  for (const Operation& op : history) {
    if (op.key == key) out << Describe(op) << "\n";
  }
}

void ExpectLinearizableAndConverged(TestCluster& c, const RunResult& run) {
  Verdict v = CheckLinearizable(run.history);
  if (!v.linearizable || !v.complete) SaveHistoryOf(run.history, v.key);
  EXPECT_TRUE(v.complete) << "the search ran out of budget on " << v.key;
  EXPECT_TRUE(v.linearizable) << v.key << ": " << v.explanation;
  std::string detail;
  EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;
  int acknowledged = 0, over_grpc = 0;
  for (const Operation& op : run.history) {
    bool acked = op.kind != OpKind::kGet && op.outcome == Outcome::kOk;
    acknowledged += acked;
    over_grpc += acked && op.client % 2 == 1;  // odd clients speak gRPC
  }
  ::testing::Test::RecordProperty("acknowledged_writes_over_grpc", over_grpc);
  EXPECT_GT(over_grpc, 20) << "the gRPC clients hardly wrote";
  ::testing::Test::RecordProperty("operations", static_cast<int>(run.history.size()));
  ::testing::Test::RecordProperty("acknowledged_writes", acknowledged);
  ::testing::Test::RecordProperty("indeterminate_writes", run.indeterminate);
  EXPECT_GT(acknowledged, 50) << "too few writes to judge";
}

// Operations by kind and faults by kind, as test properties (the soak run,
// tests/jepsen/soak.sh, adds them up).
void RecordOperationsAndFaults(const std::vector<Operation>& history) {
  std::map<std::string, int> ops;
  for (const Operation& op : history) {
    std::string kind = op.kind == OpKind::kGet   ? "get"
                       : op.kind == OpKind::kPut ? (op.expected_version ? "cas" : "put")
                                                 : (op.expected_version ? "cas-delete" : "delete");
    ++ops["op:" + kind];
    if (op.outcome == Outcome::kIndeterminate) ++ops["indeterminate:" + kind];
  }
  for (const auto& [kind, n] : testing::fault_tally::Counts()) ops["fault:" + kind] = n;
  for (const auto& [name, n] : ops) ::testing::Test::RecordProperty(name, n);
}

// What a nemesis injects faults with: the proxy on every peer link and a
// seeded random source (CONCORDANCE_JEPSEN_SEED overrides the scenario's).
struct Faults {
  PeerNetwork& net;
  std::minstd_rand rng;
  // Checked at the end with the rest; a nemesis may add its own.
  std::vector<std::unique_ptr<WatchRecorder>>& watchers;
  const std::string tenant;
  int Pick(int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }
};
using Nemesis = std::function<void(TestCluster&, Faults&)>;

uint32_t SeedFor(uint32_t scenario_seed) {
  const char* env = getenv("CONCORDANCE_JEPSEN_SEED");
  return env != nullptr ? static_cast<uint32_t>(strtoul(env, nullptr, 10)) : scenario_seed;
}

// Runs clients on a fresh cluster (3 nodes unless told), every peer link
// through a PeerNetwork, while `nemesis` injects its faults; the clients
// stop when it returns. Then the checks. Faults follow a schedule (sleeps
// between them are the schedule, not synchronisation: the clients run
// throughout).
void RunScenario(const std::string& ns, const Nemesis& nemesis, int nodes = 3, uint32_t seed = 1,
                 std::vector<std::string> flags = {}, TestCluster::PerNodeEnv env = nullptr) {
  PeerNetwork net;
  TestCluster c(std::move(flags));
  if (env) c.set_per_node_env(std::move(env));
  c.set_per_node_flags([&](const std::string& id, int port) { return std::vector<std::string>{net.Add(id, port)}; });
  testing::fault_tally::Reset();  // before the start: a skewed clock is noted there
  ASSERT_TRUE(c.Start(nodes));
  ASSERT_GE(c.WaitLeader(), 0);
  seed = SeedFor(seed);
  printf("%s: seed %u (CONCORDANCE_JEPSEN_SEED=%u repeats it)\n", ns.c_str(), seed, seed);
  ::testing::Test::RecordProperty("seed", static_cast<int>(seed));
  const std::string tenant = ns.substr(7, ns.find('/') - 7);  // "tenant:X/…"
  // On every node a gRPC watcher and a /stream watcher, from seq 0.
  std::vector<std::unique_ptr<WatchRecorder>> watchers;
  for (int i = 0; i < c.size(); ++i) {
    watchers.push_back(GrpcWatch(c, i, tenant));
    watchers.push_back(StreamWatch(c, i, tenant));
  }
  std::atomic<bool> stop{false};
  Faults faults{net, std::minstd_rand(seed), watchers, tenant};
  std::thread schedule([&] {
    std::this_thread::sleep_for(milliseconds(1000));  // load before the first fault
    nemesis(c, faults);
    net.Heal();
    net.SetDelay(milliseconds(0), milliseconds(0));
    std::this_thread::sleep_for(milliseconds(1000));  // load after the last one
    stop.store(true);
  });
  auto began = std::chrono::steady_clock::now();
  auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(); };
  RunResult run = RunClients(c, ns, stop, seed);
  schedule.join();
  printf("%s: %zu operations in %.1f s\n", ns.c_str(), run.history.size(), since());
  RecordOperationsAndFaults(run.history);
  ::testing::Test::RecordProperty("peer_connections", static_cast<int>(net.connections()));
  ExpectLinearizableAndConverged(c, run);
  printf("%s: checked and converged at %.1f s\n", ns.c_str(), since());
  ExpectEveryWatcherSawTheChangelog(c, tenant, watchers);
  printf("%s: watchers checked at %.1f s\n", ns.c_str(), since());
}

// kill -9 of the leader, restart; then SIGSTOP of the new leader for
// longer than an election timeout, SIGCONT.
TEST(FaultsTest, KillTheLeaderThenPauseTheNext) {
  RunScenario("tenant:jepsen/kill", [](TestCluster& c, Faults&) {
    int leader = c.WaitLeader();
    if (leader >= 0) {
      c.node(leader).Kill();
      std::this_thread::sleep_for(milliseconds(1500));
      EXPECT_TRUE(c.Restart(leader));
    }
    int next = c.WaitLeader();
    if (next >= 0) {
      c.node(next).Signal(SIGSTOP);
      std::this_thread::sleep_for(milliseconds(1000));  // > the 300 ms election timeout
      c.node(next).Signal(SIGCONT);
    }
  });
}

// Every node killed at once (a power cut of the whole cluster), then all
// restarted on their data dirs: nothing acknowledged may be lost.
TEST(FaultsTest, KillEveryNodeAtOnce) {
  RunScenario("tenant:jepsen/killall", [](TestCluster& c, Faults&) {
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < c.size(); ++i) c.node(i).Kill();
      std::this_thread::sleep_for(milliseconds(300));
      for (int i = 0; i < c.size(); ++i) EXPECT_TRUE(c.Restart(i));
      EXPECT_GE(c.WaitLeader(std::chrono::seconds(15)), 0);
      std::this_thread::sleep_for(milliseconds(1000));
    }
  });
}

// Leadership handed from node to node every 300 ms while clients write.
TEST(FaultsTest, TransferLeadershipInALoop) {
  RunScenario("tenant:jepsen/transfer", [](TestCluster& c, Faults&) {
    for (int round = 0; round < 10; ++round) {
      int leader = c.WaitLeader();
      if (leader < 0) continue;
      int target = (leader + 1) % c.size();
      c.Request(leader, "POST", "/api/v1/cluster/transfer-leadership", "{\"nodeId\":\"" + c.id(target) + "\"}");
      testing::fault_tally::Note("leadership transfer");
      std::this_thread::sleep_for(milliseconds(300));
    }
  });
}

// A follower paused (SIGSTOP) for four election timeouts, then resumed: it
// must not disrupt the leader when it wakes (pre-vote) and must catch up.
TEST(FaultsTest, PauseAFollowerBeyondTheElectionTimeout) {
  RunScenario("tenant:jepsen/pausefollower", [](TestCluster& c, Faults&) {
    for (int round = 0; round < 2; ++round) {
      int leader = c.WaitLeader();
      if (leader < 0) continue;
      int follower = (leader + 1 + round) % c.size();
      c.node(follower).Signal(SIGSTOP);
      std::this_thread::sleep_for(milliseconds(1200));
      c.node(follower).Signal(SIGCONT);
      std::this_thread::sleep_for(milliseconds(500));
    }
  });
}

// Membership under load: a follower is removed and killed, and a new node
// joins in its place through the leader (it catches up from the log or a
// snapshot while clients write).
TEST(FaultsTest, RemoveAFollowerAndAddAReplacement) {
  RunScenario("tenant:jepsen/membership", [](TestCluster& c, Faults&) {
    int leader = c.WaitLeader();
    ASSERT_GE(leader, 0);
    int gone = (leader + 1) % c.size();
    testing::HttpResult r =
        c.Request(leader, "POST", "/api/v1/cluster/remove", "{\"nodeId\":\"" + c.id(gone) + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    testing::fault_tally::Note("member removed");
    c.node(gone).Kill();
    EXPECT_NE(c.AddNode("jepsen-new", (leader + 2) % c.size()), nullptr);
    testing::fault_tally::Note("member added");
    EXPECT_TRUE(c.WaitVoters(3));
  });
}

// Five nodes: two killed at once (the leader among them), a quorum of
// three goes on; both restarted.
TEST(FaultsTest, FiveNodesLoseTwoIncludingTheLeader) {
  RunScenario(
      "tenant:jepsen/five",
      [](TestCluster& c, Faults&) {
        int leader = c.WaitLeader();
        if (leader < 0) return;
        int other = (leader + 2) % c.size();
        c.node(leader).Kill();
        c.node(other).Kill();
        EXPECT_GE(c.WaitLeader(std::chrono::seconds(10)), 0) << "three of five elect a leader";
        std::this_thread::sleep_for(milliseconds(1000));
        EXPECT_TRUE(c.Restart(leader));
        EXPECT_TRUE(c.Restart(other));
      },
      5);
}

// The leader killed three times in a row, each time restarted once a new
// one leads.
TEST(FaultsTest, KillTheLeaderRepeatedly) {
  RunScenario("tenant:jepsen/killleader3", [](TestCluster& c, Faults&) {
    for (int round = 0; round < 3; ++round) {
      int leader = c.WaitLeader();
      if (leader < 0) continue;
      c.node(leader).Kill();
      EXPECT_GE(c.WaitLeader(std::chrono::seconds(10)), 0);
      EXPECT_TRUE(c.Restart(leader));
      std::this_thread::sleep_for(milliseconds(500));
    }
  });
}

// A rolling restart with graceful stops (SIGTERM) while clients write:
// requests in flight at a stop are answered or failed, never lost.
TEST(FaultsTest, RollingRestartWithGracefulStops) {
  RunScenario("tenant:jepsen/rolling", [](TestCluster& c, Faults&) {
    for (int i = 0; i < c.size(); ++i) {
      EXPECT_EQ(c.node(i).Stop(), 0) << "a graceful stop exits 0";
      EXPECT_TRUE(c.Restart(i));
      EXPECT_GE(c.WaitLeader(std::chrono::seconds(10)), 0);
      std::this_thread::sleep_for(milliseconds(300));
    }
  });
}

// ---- Network faults, through the PeerNetwork on every /raft link ----

std::vector<std::string> IdsOf(TestCluster& c, const std::vector<int>& nodes) {
  std::vector<std::string> ids;
  for (int i : nodes) ids.push_back(c.id(i));
  return ids;
}

std::vector<int> AllBut(TestCluster& c, const std::vector<int>& except) {
  std::vector<int> rest;
  for (int i = 0; i < c.size(); ++i) {
    if (std::find(except.begin(), except.end(), i) == except.end()) rest.push_back(i);
  }
  return rest;
}

// Some node of `among` says it leads, within `timeout`.
bool LeaderAmong(TestCluster& c, const std::vector<int>& among, std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        for (int i : among) {
          if (testing::JsonString(c.Status(i), "role") == "leader") return true;
        }
        return false;
      },
      timeout);
}

// The leader cut off from both followers (it keeps its clients), twice: the
// majority elects a new leader; the old one must step down, answer nothing
// stale, and rejoin when the network heals.
TEST(FaultsTest, IsolateTheLeader) {
  RunScenario("tenant:jepsen/isolate", [](TestCluster& c, Faults& f) {
    for (int round = 0; round < 2; ++round) {
      int leader = c.WaitLeader();
      if (leader < 0) continue;
      std::vector<int> rest = AllBut(c, {leader});
      f.net.Partition(IdsOf(c, {leader}), IdsOf(c, rest));
      EXPECT_TRUE(LeaderAmong(c, rest, std::chrono::seconds(5))) << "the majority elects a leader";
      EXPECT_TRUE(WaitFor([&] { return testing::JsonString(c.Status(leader), "role") != "leader"; },
                          std::chrono::seconds(5)))
          << "the isolated leader steps down (check-quorum)";
      std::this_thread::sleep_for(milliseconds(1000));
      f.net.Heal();
      EXPECT_GE(c.WaitLeader(), 0);
    }
  });
}

// Five nodes split two against three with the leader on the small side,
// then a random split, each for two seconds.
TEST(FaultsTest, FiveNodesPartitionedWithTheLeaderInTheMinority) {
  RunScenario(
      "tenant:jepsen/minority",
      [](TestCluster& c, Faults& f) {
        for (int round = 0; round < 2; ++round) {
          int leader = c.WaitLeader();
          if (leader < 0) continue;
          int other = (leader + 1 + f.Pick(c.size() - 1)) % c.size();
          std::vector<int> minority = round == 0 ? std::vector<int>{leader, other} : std::vector<int>{other};
          if (round == 1) {
            // A random split: one to two nodes cut off, the leader maybe among them.
            while (minority.size() < 2) {
              int n = f.Pick(c.size());
              if (std::find(minority.begin(), minority.end(), n) == minority.end()) minority.push_back(n);
            }
          }
          std::vector<int> majority = AllBut(c, minority);
          f.net.Partition(IdsOf(c, minority), IdsOf(c, majority));
          EXPECT_TRUE(LeaderAmong(c, majority, std::chrono::seconds(5))) << "three of five elect a leader";
          std::this_thread::sleep_for(milliseconds(1500));
          f.net.Heal();
          EXPECT_GE(c.WaitLeader(), 0);
        }
      },
      5, 2);
}

// Jepsen's bridge on five nodes: {a, b} and {d, e} cannot see each other,
// c sees everyone; the leader starts in {a, b}. Only c can carry a
// majority, so any leader must hold c's vote.
TEST(FaultsTest, FiveNodesBridgedThroughOne) {
  RunScenario(
      "tenant:jepsen/bridge",
      [](TestCluster& c, Faults& f) {
        int leader = c.WaitLeader();
        if (leader < 0) return;
        int n = c.size();
        std::vector<int> left = {leader, (leader + 1) % n};
        int bridge = (leader + 2) % n;
        std::vector<int> right = {(leader + 3) % n, (leader + 4) % n};
        f.net.Partition(IdsOf(c, left), IdsOf(c, right));
        printf("bridge: %s | %s | %s\n", c.id(left[0]).c_str(), c.id(bridge).c_str(), c.id(right[0]).c_str());
        std::this_thread::sleep_for(milliseconds(3000));
        f.net.Heal();
      },
      5, 3);
}

// The leader's messages to its followers are lost, theirs to it arrive:
// the followers elect a new leader, whose term reaches the old one.
TEST(FaultsTest, OneWayLossFromTheLeader) {
  RunScenario(
      "tenant:jepsen/oneway-out",
      [](TestCluster& c, Faults& f) {
        int leader = c.WaitLeader();
        if (leader < 0) return;
        std::vector<int> rest = AllBut(c, {leader});
        for (int i : rest) f.net.Block(c.id(leader), c.id(i));
        EXPECT_TRUE(LeaderAmong(c, rest, std::chrono::seconds(5)));
        std::this_thread::sleep_for(milliseconds(1500));
      },
      3, 4);
}

// The followers' answers to the leader are lost, its messages arrive: the
// leader cannot commit and must step down (check-quorum); a new leader's
// messages to the old one are lost too, so the old one only hears of it
// through the answers to its own votes and appends.
TEST(FaultsTest, OneWayLossToTheLeader) {
  RunScenario(
      "tenant:jepsen/oneway-in",
      [](TestCluster& c, Faults& f) {
        int leader = c.WaitLeader();
        if (leader < 0) return;
        std::vector<int> rest = AllBut(c, {leader});
        for (int i : rest) f.net.Block(c.id(i), c.id(leader));
        EXPECT_TRUE(LeaderAmong(c, rest, std::chrono::seconds(5)));
        std::this_thread::sleep_for(milliseconds(1500));
      },
      3, 5);
}

// Every peer chunk delayed by 20–80 ms while the leader is killed and
// restarted: elections and commits under a slow, uneven network.
TEST(FaultsTest, SlowNetworkAndAKilledLeader) {
  RunScenario(
      "tenant:jepsen/slow",
      [](TestCluster& c, Faults& f) {
        f.net.SetDelay(milliseconds(20), milliseconds(60));
        std::this_thread::sleep_for(milliseconds(1500));
        int leader = c.WaitLeader(std::chrono::seconds(15));
        if (leader < 0) return;
        c.node(leader).Kill();
        std::this_thread::sleep_for(milliseconds(1000));
        EXPECT_TRUE(c.Restart(leader));
        std::this_thread::sleep_for(milliseconds(1500));
      },
      3, 6);
}

// Random partitions, seeded: each round cuts a random node or a random
// pair off from the rest for 300–900 ms, then heals for 300 ms.
TEST(FaultsTest, FlappingRandomPartitions) {
  RunScenario(
      "tenant:jepsen/flapping",
      [](TestCluster& c, Faults& f) {
        for (int round = 0; round < 8; ++round) {
          std::vector<int> side = {f.Pick(c.size())};
          if (f.Pick(2) == 1) side.push_back((side[0] + 1) % c.size());
          f.net.Partition(IdsOf(c, side), IdsOf(c, AllBut(c, side)));
          std::this_thread::sleep_for(milliseconds(300 + f.Pick(600)));
          f.net.Heal();
          std::this_thread::sleep_for(milliseconds(300));
        }
      },
      5, 7);
}

// ---- Failpoints: crashes at each step of the persistence path ----

std::vector<std::string> FailpointFlags(const std::string& failpoint, int hit) {
  return {"--fault-injection", "--failpoints=" + failpoint + "=crash@" + std::to_string(hit)};
}

bool Crashed(TestCluster& c, int i, const std::string& failpoint) {
  return !c.node(i).running() && c.node(i).log().find("failpoint " + failpoint) != std::string::npos;
}

// Restarts node `i` with `failpoint` armed to crash on its `hit`th pass,
// waits for the crash, and restarts it clean.
void CrashAt(TestCluster& c, int i, const std::string& failpoint, int hit) {
  if (c.node(i).running()) c.node(i).Kill();
  ASSERT_TRUE(c.Restart(i, FailpointFlags(failpoint, hit)) || Crashed(c, i, failpoint))
      << c.id(i) << " did not start";
  bool crashed = WaitFor([&] { return Crashed(c, i, failpoint); }, std::chrono::seconds(15));
  EXPECT_TRUE(crashed) << c.id(i) << " never reached " << failpoint << " " << hit << " times";
  if (crashed) testing::fault_tally::Note("crash at " + failpoint);
  if (c.node(i).running()) c.node(i).Kill();
  EXPECT_TRUE(c.Restart(i));
}

// Every node restarted at once with `failpoint` armed (each at its own
// seeded hit, so whoever leads may be the one that dies); once each has
// crashed, or `within` passed, all are restarted clean.
void CrashEveryNodeAt(TestCluster& c, Faults& f, const std::string& failpoint, int max_hit,
                      std::chrono::milliseconds within) {
  for (int i = 0; i < c.size(); ++i) c.node(i).Kill();
  // A node may crash there before it is ready: a compaction cut short by
  // the previous crash is redone as it starts.
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_TRUE(c.Restart(i, FailpointFlags(failpoint, 1 + f.Pick(max_hit))) || Crashed(c, i, failpoint))
        << c.id(i) << " did not start";
  }
  int crashed = 0;
  WaitFor(
      [&] {
        crashed = 0;
        for (int i = 0; i < c.size(); ++i) crashed += Crashed(c, i, failpoint);
        return crashed == c.size();
      },
      within);
  printf("%s: %d of %d nodes crashed there\n", failpoint.c_str(), crashed, c.size());
  testing::fault_tally::Note("crash at " + failpoint, crashed);
  EXPECT_GT(crashed, 0) << "no node reached " << failpoint;
  for (int i = 0; i < c.size(); ++i) {
    if (c.node(i).running()) c.node(i).Kill();
    EXPECT_TRUE(c.Restart(i));
  }
  EXPECT_GE(c.WaitLeader(std::chrono::seconds(15)), 0);
}

// Crashes after the log append, before its commit (fsync): on every node
// at once, then on a follower.
TEST(FaultsTest, CrashesBeforeTheLogIsDurable) {
  RunScenario(
      "tenant:jepsen/fp-append",
      [](TestCluster& c, Faults& f) {
        CrashEveryNodeAt(c, f, "raft-save-before-commit", 300, std::chrono::seconds(8));
        std::this_thread::sleep_for(milliseconds(500));
        int leader = c.WaitLeader();
        if (leader >= 0) CrashAt(c, (leader + 1) % c.size(), "raft-save-before-commit", 20 + f.Pick(100));
      },
      3, 8);
}

// Crashes after the fsync, before the Ready's messages go out and its
// committed entries are applied.
TEST(FaultsTest, CrashesAfterTheFsyncBeforeApply) {
  RunScenario(
      "tenant:jepsen/fp-apply",
      [](TestCluster& c, Faults& f) {
        CrashEveryNodeAt(c, f, "raft-save-after-commit", 300, std::chrono::seconds(8));
        std::this_thread::sleep_for(milliseconds(500));
        int leader = c.WaitLeader();
        if (leader >= 0) CrashAt(c, (leader + 1) % c.size(), "raft-save-after-commit", 20 + f.Pick(100));
      },
      3, 9);
}

// With a compaction every 100 entries, crashes between its steps: after
// state.db's fsync before raft.db is compacted, and inside the compaction's
// transaction before it commits.
TEST(FaultsTest, CrashesBetweenCompactionSteps) {
  RunScenario(
      "tenant:jepsen/fp-compact",
      [](TestCluster& c, Faults& f) {
        CrashEveryNodeAt(c, f, "compact-after-state-sync", 2, std::chrono::seconds(10));
        std::this_thread::sleep_for(milliseconds(500));
        CrashEveryNodeAt(c, f, "compact-before-commit", 2, std::chrono::seconds(10));
      },
      3, 10, {"--snapshot-threshold=100"});
}

// A follower falls behind a compaction, so it needs a snapshot; it crashes
// with the image written but raft.db unchanged, then with raft.db changed
// but state.db not yet restored; then the node that makes the image for it
// crashes with the image written but not recorded. Each restart must
// finish the install.
TEST(FaultsTest, CrashesInTheMiddleOfASnapshotInstall) {
  RunScenario(
      "tenant:jepsen/fp-install",
      [](TestCluster& c, Faults&) {
        int leader = c.WaitLeader();
        if (leader < 0) return;
        int behind = (leader + 1) % c.size();
        for (const char* failpoint : {"snapshot-install-after-file", "snapshot-install-before-restore"}) {
          c.node(behind).Kill();
          // Clients write meanwhile: 100-entry compactions leave it behind.
          std::this_thread::sleep_for(milliseconds(1500));
          CrashAt(c, behind, failpoint, 1);
        }
        // Then the nodes that could send it are restarted with the image's
        // failpoint armed: whichever leads dies once it has written the image.
        leader = c.WaitLeader();
        if (leader < 0) return;
        behind = (leader + 1) % c.size();
        c.node(behind).Kill();
        std::this_thread::sleep_for(milliseconds(1500));
        std::vector<int> senders = AllBut(c, {behind});
        for (int i : senders) c.node(i).Kill();
        for (int i : senders) EXPECT_TRUE(c.Restart(i, FailpointFlags("snapshot-after-image-write", 1)));
        EXPECT_TRUE(c.Restart(behind));
        EXPECT_TRUE(WaitFor(
            [&] {
              for (int i : senders) {
                if (Crashed(c, i, "snapshot-after-image-write")) return true;
              }
              return false;
            },
            std::chrono::seconds(10)))
            << "no leader made the image the follower needs";
        for (int i : senders) {
          if (c.node(i).running()) c.node(i).Kill();
          EXPECT_TRUE(c.Restart(i));
        }
      },
      3, 11, {"--snapshot-threshold=100"});
}

// ---- Clocks ----

// Three wall clocks minutes apart (libfaketime; monotonic clocks, which
// time elections, untouched) while leadership moves from node to node:
// Raft never reads the wall clock, so safety holds; only TTLs follow the
// leader's clock (TtlTest.UnderClockSkewTheLeadersClockDecides).
TEST(FaultsTest, SkewedClocksLeadInTurn) {
  RunScenario(
      "tenant:jepsen/skew",
      [](TestCluster& c, Faults&) {
        for (int round = 0; round < 6; ++round) {
          int leader = c.WaitLeader();
          if (leader < 0) continue;
          int target = (leader + 1) % c.size();
          c.Request(leader, "POST", "/api/v1/cluster/transfer-leadership", "{\"nodeId\":\"" + c.id(target) + "\"}");
          testing::fault_tally::Note("leadership transfer");
          std::this_thread::sleep_for(milliseconds(600));
        }
      },
      3, 12, {}, [](const std::string& id) -> std::vector<std::string> {
        std::string offset = id == "node1" ? "+180s" : id == "node2" ? "-120s" : "";
        if (offset.empty()) return {};
        testing::fault_tally::Note("wall clock skewed by minutes");
        return {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "FAKETIME=" + offset,
                "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_NO_CACHE=1"};
      });
}

// The suspected gap (issue 13): a watch still replaying its fromSeq
// backlog when a snapshot replaces the state must neither skip what the
// snapshot brought nor repeat anything. A follower falls behind a
// compaction; it restarts with its restore delayed 1.5 s and every replay
// page held 200 ms after its read, and new watchers (gRPC and /stream)
// start replaying its old changelog from seq 0 before the snapshot lands.
TEST(FaultsTest, WatchesReplayingAcrossASnapshotInstall) {
  RunScenario(
      "tenant:jepsen/replay",
      [](TestCluster& c, Faults& f) {
        for (int round = 0; round < 2; ++round) {
          int leader = c.WaitLeader();
          if (leader < 0) return;
          int behind = (leader + 1 + round) % c.size();
          c.node(behind).Kill();
          std::this_thread::sleep_for(milliseconds(2000));  // clients write; compactions leave it behind
          EXPECT_TRUE(c.Restart(behind, {"--fault-injection",
                                         "--failpoints=snapshot-install-before-restore=sleep(1500);"
                                         "watch-replay-after-read=sleep(200)"}));
          f.watchers.push_back(GrpcWatch(c, behind, f.tenant));
          f.watchers.push_back(StreamWatch(c, behind, f.tenant));
          EXPECT_TRUE(WaitFor([&] { return c.node(behind).log().find("installed a snapshot") != std::string::npos; },
                              std::chrono::seconds(15)))
              << c.id(behind) << " never installed a snapshot";
          std::this_thread::sleep_for(milliseconds(1000));
          // Without its failpoints again (the watches on it resume).
          c.node(behind).Kill();
          EXPECT_TRUE(c.Restart(behind));
        }
      },
      3, 13, {"--snapshot-threshold=100"});
}

}  // namespace
}  // namespace concordance::jepsen
