// NodeHost: one simulated server — a raft::Node plus the things that survive
// its crash (a MemoryLogStore standing for raft.db, a SimStateMachine
// standing for state.db) — and a synchronous Ready handler that follows the
// persistence contract of raft/node.h step by step.
#ifndef CONCORDANCE_RAFT_TESTING_NODE_HOST_H_
#define CONCORDANCE_RAFT_TESTING_NODE_HOST_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "raft/node.h"
#include "raft/testing/sim_state_machine.h"
#include "storage/memory_log_store.h"

namespace concordance::raft::testing {

class NodeHost {
 public:
  NodeHost(Config config);

  // Creates the node from the durable state (a fresh start or a restart).
  void Start();
  // Loses everything not durable: the node object and its unsent messages.
  void Crash() { node_.reset(); }
  bool up() const { return node_ != nullptr; }
  Node& node() { return *node_; }
  const Node& node() const { return *node_; }

  // Step 1-5 of the contract, synchronously. Messages to send are appended
  // to *out (leader messages first). Returns false when there was no Ready.
  bool HandleReady(std::vector<Message>* out);

  // Hooks for tests and the simulator's invariant checker.
  std::function<void(const LogEntry&)> on_apply;
  std::function<void(const ReadState&)> on_read;

  storage::MemoryLogStore& store() { return *store_; }
  SimStateMachine& state() { return sm_; }
  Config& config() { return config_; }
  const std::string& id() const { return config_.id; }
  int snapshots_taken() const { return snapshots_taken_; }

 private:
  void MaybeSnapshot();

  Config config_;
  std::unique_ptr<storage::MemoryLogStore> store_;
  SimStateMachine sm_;
  std::unique_ptr<Node> node_;
  int snapshots_taken_ = 0;
};

}  // namespace concordance::raft::testing

#endif  // CONCORDANCE_RAFT_TESTING_NODE_HOST_H_
