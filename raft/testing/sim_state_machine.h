// A tiny deterministic state machine for Raft tests and the simulator:
// COMMAND entries carry "key=value" and set the key. It records every entry
// it applied so tests can compare applied sequences across nodes.
#ifndef CONCORDANCE_RAFT_TESTING_SIM_STATE_MACHINE_H_
#define CONCORDANCE_RAFT_TESTING_SIM_STATE_MACHINE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proto/raft.pb.h"

namespace concordance::raft::testing {

class SimStateMachine {
 public:
  // Applies entry `e`, which must be applied_index() + 1.
  void Apply(const LogEntry& e);
  std::string Serialize() const;
  bool Restore(const std::string& image);

  uint64_t applied_index() const { return applied_index_; }
  uint64_t applied_term() const { return applied_term_; }
  const std::map<std::string, std::string>& data() const { return data_; }
  // A hash of the content (data plus applied position).
  uint64_t Hash() const;

 private:
  std::map<std::string, std::string> data_;
  uint64_t applied_index_ = 0;
  uint64_t applied_term_ = 0;
};

}  // namespace concordance::raft::testing

#endif  // CONCORDANCE_RAFT_TESTING_SIM_STATE_MACHINE_H_
