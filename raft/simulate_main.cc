// bazel run //raft:simulate -- --seeds=N [--nodes=3|5] [--seed=S] [--verbose]
//
// Runs the deterministic cluster simulator for seeds S, S+1, ..., S+N-1
// (--seeds=1 --seed=S replays one seed). Prints what was injected and
// "0 violations", or, for the first failing seed, the broken invariant and
// the command that replays it. Exit status 1 on any violation.
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "raft/sim/simulator.h"

DEFINE_int32(seeds, 1, "number of seeds to run");
DEFINE_uint64(seed, 1, "first seed");
DEFINE_int32(nodes, 3, "initial cluster size (3 or 5)");
DEFINE_int64(fault_ms, 20000, "virtual milliseconds of faults per seed");
DEFINE_int64(liveness_ms, 10000, "bound on recovery after healing (virtual ms)");
DEFINE_bool(verbose, false, "trace faults and leaders of each seed");

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  FLAGS_minloglevel = FLAGS_verbose ? 0 : 2;  // core logs only when tracing
  using concordance::raft::sim::RunSimulation;
  using concordance::raft::sim::SimOptions;
  using concordance::raft::sim::SimStats;
  SimStats total;
  int violations = 0;
  auto start = std::chrono::steady_clock::now();
  int run = 0;
  for (int i = 0; i < FLAGS_seeds; ++i) {
    SimOptions o;
    o.seed = FLAGS_seed + i;
    o.nodes = FLAGS_nodes;
    o.fault_ms = FLAGS_fault_ms;
    o.liveness_ms = FLAGS_liveness_ms;
    o.verbose = FLAGS_verbose;
    auto r = RunSimulation(o);
    total.Add(r.stats);
    ++run;
    if (!r.violations.empty()) {
      violations += r.violations.size();
      printf("VIOLATION in seed %llu (%d nodes):\n", static_cast<unsigned long long>(o.seed),
             o.nodes);
      for (const std::string& v : r.violations) printf("  %s\n", v.c_str());
      printf("replay: bazel run //raft:simulate -- --seed=%llu --nodes=%d --verbose\n",
             static_cast<unsigned long long>(o.seed), o.nodes);
      break;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf("seeds=%d nodes=%d %s\n", run, FLAGS_nodes, total.ToString().c_str());
  printf("%.1f s wall, %.0f steps/s\n", secs, total.steps / secs);
  printf("%d violations\n", violations);
  return violations == 0 ? 0 : 1;
}
