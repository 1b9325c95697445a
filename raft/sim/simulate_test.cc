// The CI-sized simulator run: a few hundred seeds for 3 and for 5 nodes.
// (`bazel run //raft:simulate -- --seeds=2000` is the full run.) Prints a
// SUMMARY line that tools/test.sh shows.
#include <cstdio>

#include "glog/logging.h"
#include "gtest/gtest.h"
#include "raft/sim/simulator.h"

namespace concordance::raft::sim {
namespace {

void RunSeeds(int nodes, int seeds) {
  SimStats total;
  int violations = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.nodes = nodes;
    SimResult r = RunSimulation(o);
    total.Add(r.stats);
    for (const std::string& v : r.violations) {
      ADD_FAILURE() << "seed " << seed << ": " << v
                    << "\nreplay: bazel run //raft:simulate -- --seed=" << seed
                    << " --nodes=" << nodes << " --verbose";
      ++violations;
    }
  }
  // The run must actually have exercised the faults it claims to.
  EXPECT_GT(total.crashes, static_cast<uint64_t>(seeds));
  EXPECT_GT(total.partitions, static_cast<uint64_t>(seeds));
  EXPECT_GT(total.dropped, 0u);
  EXPECT_GT(total.duplicated, 0u);
  EXPECT_GT(total.conf_changes, 0u);
  EXPECT_GT(total.transfers, 0u);
  EXPECT_GT(total.reads_ok, 0u);
  EXPECT_GT(total.snapshots_installed, 0u);
  printf("SUMMARY: raft simulator, %d nodes, %d seeds: %s; %d violations\n", nodes, seeds,
         total.ToString().c_str(), violations);
}

TEST(SimulateTest, ThreeNodes) { RunSeeds(3, 300); }

TEST(SimulateTest, FiveNodes) { RunSeeds(5, 100); }

}  // namespace
}  // namespace concordance::raft::sim

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_minloglevel = 2;  // the core's INFO logs would drown the output
  return RUN_ALL_TESTS();
}
