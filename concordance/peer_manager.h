// PeerManager: the /raft transport of a node. Outbound, it encodes Raft
// messages (raft_codec.h) and hands them to a gateway::PeerDialer, which
// keeps one WebSocket to each member of the configuration. Inbound, the
// gateway hands it the frames peers send us; it checks and decodes them —
// joining a snapshot notice with the binary frame that follows — and steps
// them into the Raft driver, pausing a peer's connection while the driver's
// inbox is full.
//
// A peer that the configuration lists as removed has its connection closed
// with kPeerRemovedCloseCode (so it learns it was removed) as soon as it
// asks for a vote or answers; what a leader sends is let through, since a
// node removed and added back may lead before this node has applied its
// return. When a member refuses this node that way, the driver is told.
#ifndef CONCORDANCE_CONCORDANCE_PEER_MANAGER_H_
#define CONCORDANCE_CONCORDANCE_PEER_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
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
  void UpdatePeers(const raft::ConfState& conf, uint64_t conf_index) override;
  bool Reachable(const std::string& node_id) const override;

  // PeerHandler (called on gateway threads).
  absl::Status Connected(uint64_t link, const std::string& node_id, const std::string& address,
                         std::function<void()> resume) override;
  absl::StatusOr<bool> Text(uint64_t link, const std::string& node_id, std::string json) override;
  absl::StatusOr<bool> Binary(uint64_t link, const std::string& node_id,
                              std::string bytes) override;
  void Disconnected(uint64_t link, const std::string& node_id) override;

 private:
  struct Link {
    std::function<void()> resume;
    // A snapshot chunk's header awaiting its bytes.
    std::optional<raft::Message> pending_snapshot;
    size_t pending_length = 0;
  };

  // Dials the configuration's members, plus the peers that contacted it
  // and are not members in its configuration: all of them while this node
  // is not a member itself (joining, or removed), else those that lead — a
  // node added back and elected before this one applied its return — so it
  // can answer a leader it does not know from its log yet.
  void UpdateDialerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteLeaderLocked(const std::string& node_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Steps `m` into the driver; false (and the link's reader paused until
  // the inbox has room) when the inbox is full.
  bool Deliver(uint64_t link, raft::Message m, size_t bytes);
  // The refusal for a peer the configuration lists as removed, if it is.
  absl::Status CheckNotRemovedLocked(const std::string& node_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reject(const std::string& node_id, const std::string& why);
  // A member closed our connection to it: we were removed.
  void OnRemovedByPeer(const std::string& peer_id, const std::string& reason);

  std::string self_id_;
  gateway::PeerDialer dialer_;
  NodeDriver* driver_ = nullptr;
  absl::Mutex mu_;
  std::map<uint64_t, Link> links_ ABSL_GUARDED_BY(mu_);
  raft::ConfState conf_ ABSL_GUARDED_BY(mu_);
  uint64_t conf_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> learned_ ABSL_GUARDED_BY(mu_);  // id -> address
  std::set<std::string> leaders_heard_ ABSL_GUARDED_BY(mu_);  // learned ids that sent leader messages
  metrics::Counter* received_;
  metrics::Counter* rejected_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_PEER_MANAGER_H_
