// The deterministic cluster simulator: Raft nodes on in-memory storage,
// joined by a seeded fake network that drops, delays, reorders, duplicates
// and partitions (symmetric and one-way) messages; crashes that lose all
// that the persistence contract does not guarantee (and, half the time, the
// state machine's unsynced tail, as a power cut would); restarts;
// membership changes, leadership transfers, ReadIndex requests and client
// proposals throughout. An InvariantChecker runs after every step. After
// the fault phase everything heals and the run must show liveness: a leader,
// a new proposal committed, and every member converged, within a bound.
//
// One seed fully determines a run: replay it with --seed.
#ifndef CONCORDANCE_RAFT_SIM_SIMULATOR_H_
#define CONCORDANCE_RAFT_SIM_SIMULATOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace concordance::raft::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;
  int64_t fault_ms = 20000;    // virtual time with faults
  int64_t liveness_ms = 10000;  // bound for recovery after healing
  bool verbose = false;         // trace every fault and role change
};

struct SimStats {
  uint64_t steps = 0;
  uint64_t messages = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t partitions = 0;
  uint64_t crashes = 0;
  uint64_t power_losses = 0;
  uint64_t restarts = 0;
  uint64_t proposals = 0;
  uint64_t conf_changes = 0;
  uint64_t transfers = 0;
  uint64_t reads = 0;
  uint64_t reads_ok = 0;
  uint64_t snapshots_installed = 0;
  uint64_t compactions = 0;        // compaction points recorded (no image)
  uint64_t images = 0;             // snapshot images made for followers
  uint64_t failpoint_crashes = 0;  // deaths at the pipeline's crash points
  uint64_t max_commit = 0;
  uint64_t leaders = 0;  // distinct (term, leader) pairs
  void Add(const SimStats& o);
  std::string ToString() const;
};

struct SimResult {
  std::vector<std::string> violations;
  SimStats stats;
};

SimResult RunSimulation(const SimOptions& options);

}  // namespace concordance::raft::sim

#endif  // CONCORDANCE_RAFT_SIM_SIMULATOR_H_
