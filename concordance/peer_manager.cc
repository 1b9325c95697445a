#include "concordance/peer_manager.h"

#include "concordance/raft_codec.h"
#include "glog/logging.h"

namespace concordance {

PeerManager::PeerManager(std::string self_id, std::string self_address, std::string peer_key,
                         uint64_t seed, metrics::Registry* metrics)
    : self_id_(self_id),
      dialer_(gateway::PeerDialer::Options{self_id, std::move(self_address), std::move(peer_key),
                                           4096, 50, 2000, 2000, seed},
              metrics) {
  received_ = metrics->GetCounter("concordance_peer_messages_received_total",
                                  "Raft messages received from peers.");
  rejected_ = metrics->GetCounter("concordance_peer_messages_rejected_total",
                                  "Malformed or misaddressed peer frames dropped.");
}

PeerManager::~PeerManager() { Stop(); }

void PeerManager::Stop() { dialer_.Stop(); }

void PeerManager::Send(std::vector<raft::Message> messages) {
  for (const raft::Message& m : messages) {
    std::string binary;
    std::string json = EncodeRaftMessage(m, &binary);
    dialer_.Send(m.to(), std::move(json), std::move(binary));
  }
}

void PeerManager::UpdatePeers(const raft::ConfState& conf) {
  absl::MutexLock l(&mu_);
  conf_ = conf;
  UpdateDialerLocked();
}

void PeerManager::UpdateDialerLocked() {
  std::map<std::string, std::string> peers;
  bool member = false;
  for (const auto* list : {&conf_.voters(), &conf_.learners()}) {
    for (const raft::Member& m : *list) {
      peers[m.node_id()] = m.address();
      member |= m.node_id() == self_id_;
    }
  }
  if (!member) {
    for (const auto& [id, address] : learned_) peers.emplace(id, address);
  }
  peers.erase(self_id_);
  dialer_.SetPeers(peers);
}

bool PeerManager::Reachable(const std::string& node_id) const {
  return dialer_.Connected(node_id);
}

bool PeerManager::Connected(uint64_t, const std::string& node_id, const std::string& address) {
  // The gateway already checked the peer key. A node not yet in our
  // configuration (a learner being added) may connect too.
  if (node_id == self_id_) return false;
  VLOG(1) << "peer " << node_id << " connected from " << address;
  if (!address.empty()) {
    absl::MutexLock l(&mu_);
    auto [it, added] = learned_.insert_or_assign(node_id, address);
    (void)it;
    UpdateDialerLocked();
  }
  return true;
}

void PeerManager::Text(uint64_t link, const std::string& node_id, std::string json) {
  size_t binary_length = 0;
  absl::StatusOr<raft::Message> m = DecodeRaftMessage(json, &binary_length);
  if (!m.ok() || m->from() != node_id || m->to() != self_id_) {
    rejected_->Inc();
    LOG_EVERY_N(WARNING, 100) << "dropping a bad frame from peer " << node_id << ": "
                              << (m.ok() ? "wrong from/to" : m.status().ToString());
    return;
  }
  received_->Inc();
  if (binary_length > 0) {
    absl::MutexLock l(&mu_);
    pending_[link] = PendingSnapshot{std::move(*m), binary_length};
    return;
  }
  if (driver_ != nullptr) driver_->Step(std::move(*m));
}

void PeerManager::Binary(uint64_t link, const std::string& node_id, std::string bytes) {
  PendingSnapshot p;
  {
    absl::MutexLock l(&mu_);
    auto it = pending_.find(link);
    if (it == pending_.end()) {
      rejected_->Inc();
      return;
    }
    p = std::move(it->second);
    pending_.erase(it);
  }
  if (bytes.size() != p.length) {
    rejected_->Inc();
    LOG(WARNING) << "snapshot chunk from " << node_id << " has " << bytes.size()
                 << " bytes, announced " << p.length;
    return;
  }
  p.message.mutable_install_snapshot()->set_data(std::move(bytes));
  if (driver_ != nullptr) driver_->Step(std::move(p.message));
}

void PeerManager::Disconnected(uint64_t link, const std::string&) {
  absl::MutexLock l(&mu_);
  pending_.erase(link);
}

}  // namespace concordance
