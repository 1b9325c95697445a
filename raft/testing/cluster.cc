#include "raft/testing/cluster.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace concordance::raft::testing {

Cluster::Cluster(int n, std::function<void(Config&)> tweak) : tweak_(std::move(tweak)) {
  std::vector<Member> voters;
  for (int i = 1; i <= n; ++i) {
    Member m;
    m.set_node_id(absl::StrCat("n", i));
    m.set_address(absl::StrCat("127.0.0.1:", 4100 + i));
    voters.push_back(m);
  }
  for (const Member& m : voters) {
    NodeHost& h = AddHost(m.node_id());
    CHECK(Node::Bootstrap(&h.store(), voters).ok());
    h.Start();
  }
}

NodeHost& Cluster::AddHost(const std::string& id) {
  Config c;
  c.id = id;
  c.election_ticks_min = 10;
  c.election_ticks_max = 20;
  c.heartbeat_ticks = 2;
  c.seed = std::hash<std::string>()(id);
  if (tweak_) tweak_(c);
  auto host = std::make_unique<NodeHost>(c);
  NodeHost& ref = *host;
  ref.on_read = [this, id](const ReadState& r) { reads[id].push_back(r); };
  hosts_[id] = std::move(host);
  return ref;
}

std::vector<std::string> Cluster::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, h] : hosts_) out.push_back(id);
  return out;
}

void Cluster::Tick(const std::string& id, int n) {
  for (int i = 0; i < n; ++i) {
    if (host(id).up()) node(id).Tick();
  }
}

void Cluster::TickAll(int n) {
  for (int i = 0; i < n; ++i) {
    for (auto& [id, h] : hosts_) {
      if (h->up()) h->node().Tick();
    }
    Stabilize();
  }
}

bool Cluster::Elect(const std::string& id) {
  Node& n = node(id);
  for (int i = 0; i < 1000 && n.role() != Role::kLeader; ++i) {
    n.Tick();
    Stabilize();
  }
  return n.role() == Role::kLeader;
}

void Cluster::Isolate(const std::string& id) {
  for (const auto& [other, h] : hosts_) {
    if (other != id) CutBoth(id, other);
  }
}

void Cluster::FlushReadys() {
  for (auto& [id, h] : hosts_) {
    std::vector<Message> out;
    while (h->HandleReady(&out)) {
    }
    for (Message& m : out) queue_.push_back(std::move(m));
  }
}

int Cluster::DeliverOnce() {
  FlushReadys();
  std::deque<Message> batch;
  batch.swap(queue_);
  int delivered = 0;
  for (const Message& m : batch) {
    if (cut_.count({m.from(), m.to()}) || (drop_ && drop_(m))) continue;
    auto it = hosts_.find(m.to());
    if (it == hosts_.end() || !it->second->up()) continue;
    it->second->node().Step(m);
    ++delivered;
  }
  return delivered;
}

int Cluster::Stabilize() {
  int total = 0;
  for (int round = 0; round < 10000; ++round) {
    FlushReadys();
    if (queue_.empty()) return total;
    total += DeliverOnce();
  }
  LOG(FATAL) << "cluster did not stabilize";
  return total;
}

std::string Cluster::Leader() const {
  std::string leader;
  uint64_t term = 0;
  for (const auto& [id, h] : hosts_) {
    if (!h->up() || h->node().role() != Role::kLeader) continue;
    if (h->node().term() > term) {
      term = h->node().term();
      leader = id;
    }
  }
  return leader;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> Cluster::Propose(const std::string& id,
                                                               const std::string& kv) {
  auto r = node(id).Propose(kv);
  Stabilize();
  return r;
}

}  // namespace concordance::raft::testing
