// PeerManager: the /raft transport of a node. Outbound, it encodes Raft
// messages (raft_codec.h) and hands them to a gateway::PeerDialer, which
// keeps one WebSocket to each member of the configuration. Inbound, the
// gateway hands it the frames peers send us; it decodes them — joining a
// snapshot notice with the binary frame that follows — and steps them into
// the Raft driver.
#ifndef CONCORDANCE_CONCORDANCE_PEER_MANAGER_H_
#define CONCORDANCE_CONCORDANCE_PEER_MANAGER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "concordance/kv_service.h"
#include "concordance/node_driver.h"
#include "concordance/transport.h"
#include "gateway/client.h"
#include "util/metrics.h"

namespace concordance {

class PeerManager : public Transport, public PeerHandler {
 public:
  PeerManager(std::string self_id, std::string self_address, std::string peer_key,
              uint64_t seed, metrics::Registry* metrics);
  ~PeerManager() override;
  // The driver to step inbound messages into (set before traffic flows).
  void set_driver(NodeDriver* driver) { driver_ = driver; }
  void Stop();

  // Transport (called on the Raft loop).
  void Send(std::vector<raft::Message> messages) override;
  void UpdatePeers(const raft::ConfState& conf) override;
  bool Reachable(const std::string& node_id) const override;

  // PeerHandler (called on gateway threads).
  bool Connected(uint64_t link, const std::string& node_id,
                 const std::string& address) override;
  void Text(uint64_t link, const std::string& node_id, std::string json) override;
  void Binary(uint64_t link, const std::string& node_id, std::string bytes) override;
  void Disconnected(uint64_t link, const std::string& node_id) override;

 private:
  struct PendingSnapshot {
    raft::Message message;
    size_t length = 0;
  };

  // Dials the configuration's members, plus — while this node is not a
  // member itself (joining, or removed) — the peers that contacted it, so
  // it can answer a leader it does not know from its log yet.
  void UpdateDialerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string self_id_;
  gateway::PeerDialer dialer_;
  NodeDriver* driver_ = nullptr;
  absl::Mutex mu_;
  // Per inbound connection: a snapshot chunk's header awaiting its bytes.
  std::map<uint64_t, PendingSnapshot> pending_ ABSL_GUARDED_BY(mu_);
  raft::ConfState conf_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> learned_ ABSL_GUARDED_BY(mu_);  // id -> address
  metrics::Counter* received_;
  metrics::Counter* rejected_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_PEER_MANAGER_H_
