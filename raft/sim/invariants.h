// InvariantChecker: the safety properties of Raft, checked by the simulator
// after every step, from the outside (it reads nodes and stores, never
// trusts what the core says about itself beyond its observable state).
//
//   election safety       at most one leader per term
//   log matching          two logs holding an entry with the same index and
//                         term hold the same entry and the same prefix
//   commit durability     an index is committed only once a quorum of the
//                         leader's voters hold it durably
//   commit stability      a committed entry never changes or disappears
//   leader completeness   a new leader's log holds every committed entry
//   state machine safety  every node applies the same entry at each index
//                         and reaches the same state after it
//   durable before apply  a node applies only entries durable in its own
//                         log (the driver applies while its fsync runs)
//   read linearizability  a ReadIndex answer is at least every commit index
//                         reached before the read began
#ifndef CONCORDANCE_RAFT_SIM_INVARIANTS_H_
#define CONCORDANCE_RAFT_SIM_INVARIANTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "raft/node.h"
#include "storage/memory_log_store.h"

namespace concordance::raft::sim {

class InvariantChecker {
 public:
  // Gives the durable store of a node id (nullptr if unknown).
  using StoreLookup = std::function<const storage::MemoryLogStore*(const std::string&)>;
  explicit InvariantChecker(StoreLookup stores) : stores_(std::move(stores)) {}

  // The entries a cluster is bootstrapped with count as committed.
  void OnBootstrap(const std::vector<LogEntry>& entries);
  // After every step, for every live node.
  void CheckNode(const Node& node);
  // A node durably appended entries.
  void OnPersist(const std::string& id, const std::vector<LogEntry>& entries);
  // A node applied entry `e`, reaching state hash `state_hash`.
  void OnApply(const std::string& id, const LogEntry& e, uint64_t state_hash);
  // A node's state machine was restored (snapshot) to `index`.
  void OnRestore(const std::string& id, uint64_t index, uint64_t state_hash);
  void OnReadStart(const std::string& id, uint64_t request_id);
  void OnReadState(const std::string& id, const ReadState& r);
  // Pairwise log matching over the durable stores of `ids`.
  void CheckLogMatching(const std::vector<std::string>& ids);

  // A violation the simulator found itself.
  void Violation(std::string what);

  uint64_t max_committed() const { return max_committed_; }
  const std::vector<std::string>& violations() const { return violations_; }

 private:
  void RecordCommitted(const Node& node, uint64_t from, uint64_t to);

  StoreLookup stores_;
  std::map<uint64_t, std::string> leaders_;  // term -> leader
  // (index, term) -> data hash of every entry ever persisted anywhere.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> entries_;
  // index -> (term, data hash) of committed entries.
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> committed_;
  uint64_t max_committed_ = 0;
  std::map<std::string, uint64_t> checked_commit_;  // per node
  std::map<std::string, std::pair<Role, uint64_t>> last_role_;
  // index -> (entry term, state hash after applying it)
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> applied_;
  std::map<std::pair<std::string, uint64_t>, uint64_t> read_bounds_;
  std::vector<std::string> violations_;
};

}  // namespace concordance::raft::sim

#endif  // CONCORDANCE_RAFT_SIM_INVARIANTS_H_
