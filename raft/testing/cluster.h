// Cluster: a handful of NodeHosts joined by a synchronous, hand-driven
// network, for scenario tests that script an exact sequence of events.
// Messages queue until Deliver()/Stabilize(); link filters drop them.
#ifndef CONCORDANCE_RAFT_TESTING_CLUSTER_H_
#define CONCORDANCE_RAFT_TESTING_CLUSTER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/testing/node_host.h"

namespace concordance::raft::testing {

class Cluster {
 public:
  // Nodes "n1".."nN", all voters, bootstrapped; `tweak` adjusts each config.
  explicit Cluster(int n, std::function<void(Config&)> tweak = nullptr);

  NodeHost& host(const std::string& id) { return *hosts_.at(id); }
  Node& node(const std::string& id) { return hosts_.at(id)->node(); }
  std::vector<std::string> ids() const;

  // Adds a node with an empty log (for membership tests); not a member yet.
  NodeHost& AddHost(const std::string& id);

  void Tick(const std::string& id, int n = 1);
  void TickAll(int n = 1);
  // Ticks only `id` (stabilizing after each tick) until it leads or 1000
  // ticks pass; returns true if it leads.
  bool Elect(const std::string& id);

  // Handles every Ready and delivers queued messages, repeatedly, until
  // nothing moves. Returns the number of messages delivered.
  int Stabilize();
  // Collects Readys (queueing their messages) without delivering.
  void FlushReadys();
  // Delivers the queued messages once (they may produce more, left queued).
  int DeliverOnce();

  // Link control. A cut link drops messages in that direction.
  void Cut(const std::string& from, const std::string& to) { cut_.insert({from, to}); }
  void CutBoth(const std::string& a, const std::string& b) {
    Cut(a, b);
    Cut(b, a);
  }
  void Isolate(const std::string& id);
  void Heal() { cut_.clear(); }
  // Drops messages for which `drop` returns true (in addition to cuts).
  void SetDropFilter(std::function<bool(const Message&)> drop) { drop_ = std::move(drop); }

  void Crash(const std::string& id) { host(id).Crash(); }
  void Restart(const std::string& id) { host(id).Start(); }

  // The unique leader among live nodes with the highest term, or "".
  std::string Leader() const;
  // Proposes on `id` (must be leader) and stabilizes.
  absl::StatusOr<std::pair<uint64_t, uint64_t>> Propose(const std::string& id,
                                                        const std::string& kv);

  std::deque<Message>& queue() { return queue_; }
  // Read states observed per node.
  std::map<std::string, std::vector<ReadState>> reads;

 private:
  std::map<std::string, std::unique_ptr<NodeHost>> hosts_;
  std::deque<Message> queue_;
  std::set<std::pair<std::string, std::string>> cut_;
  std::function<bool(const Message&)> drop_;
  std::function<void(Config&)> tweak_;
};

}  // namespace concordance::raft::testing

#endif  // CONCORDANCE_RAFT_TESTING_CLUSTER_H_
