// PeerTransport: the /raft wire of a node (design.md §1). Outbound, it
// encodes Raft messages (raft_codec.h) and hands them to a PeerDialer, which
// keeps one WebSocket to each member of the configuration. Inbound, the
// server's /raft sessions hand it the frames peers send; it checks and
// decodes them — joining a snapshot notice with the binary frame that
// follows — and delivers them to the node's RaftInbox, pausing a link while
// the inbox is full.
//
// A peer that the configuration lists as removed has its connection closed
// with kPeerRemovedCloseCode (so it learns it was removed) as soon as it
// asks for a vote or answers; what a leader sends is let through, since a
// node removed and added back may lead before this node has applied its
// return. When a member refuses this node that way, `on_removed` is told.
//
// Thread-safe.
#ifndef CONCORDANCE_GATEWAY_PEER_TRANSPORT_H_
#define CONCORDANCE_GATEWAY_PEER_TRANSPORT_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/client.h"
#include "gateway/raft_transport.h"
#include "util/metrics.h"

namespace concordance::gateway {

class PeerTransport : public RaftTransport {
 public:
  struct Options {
    std::string self_id;
    std::string self_address;  // announced to peers so they can dial back
    std::string self_version;  // announced to peers too
    std::string peer_key;      // presented on outbound links ("" = none)
    uint64_t seed = 1;
    // A member refused this node as removed by the configuration entry at
    // this index.
    std::function<void(uint64_t conf_index)> on_removed;
    // Dial wss:// with these (null: ws://).
    std::shared_ptr<TlsContexts> tls;
  };
  PeerTransport(Options options, RaftInbox* inbox, metrics::Registry* metrics);
  ~PeerTransport() override;
  void Stop();

  // RaftTransport (called on the Raft loop).
  void Send(std::vector<raft::Message> messages) override;
  void UpdatePeers(const raft::ConfState& conf, uint64_t conf_index) override;
  bool Reachable(const std::string& node_id) const override;
  std::string PeerVersion(const std::string& node_id) const override;

  // Inbound links (called by the server's /raft sessions). `link` names one
  // connection. Connected (with what the peer announced: its address and
  // version, either may be empty): not OK refuses it (the message is the
  // close reason). Text/Binary: true to read on, false to pause until `resume`
  // (given at Connected) is called, an error to close the link (with
  // kPeerRemovedCloseCode when it carries kRemovedPayload).
  absl::Status Connected(uint64_t link, const std::string& node_id, const std::string& address,
                         const std::string& version, std::function<void()> resume);
  absl::StatusOr<bool> Text(uint64_t link, const std::string& node_id, std::string json);
  absl::StatusOr<bool> Binary(uint64_t link, const std::string& node_id, std::string bytes);
  void Disconnected(uint64_t link, const std::string& node_id);

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
  // Delivers `m` to the inbox; false (and the link's reader paused until
  // the inbox has room) when the inbox is full.
  bool Deliver(uint64_t link, raft::Message m, size_t bytes);
  // The refusal for a peer the configuration lists as removed, if it is.
  absl::Status CheckNotRemovedLocked(const std::string& node_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reject(const std::string& node_id, const std::string& why);
  // A member closed our connection to it: we were removed.
  void OnRemovedByPeer(const std::string& peer_id, const std::string& reason);

  std::string self_id_;
  std::function<void(uint64_t)> on_removed_;
  RaftInbox* inbox_;
  PeerDialer dialer_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Link> links_ ABSL_GUARDED_BY(mu_);
  raft::ConfState conf_ ABSL_GUARDED_BY(mu_);
  uint64_t conf_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> learned_ ABSL_GUARDED_BY(mu_);  // id -> address
  std::map<std::string, std::string> versions_ ABSL_GUARDED_BY(mu_);  // id -> version
  // Learned ids that sent leader messages (see UpdateDialerLocked).
  std::set<std::string> leaders_heard_ ABSL_GUARDED_BY(mu_);
  metrics::Counter* received_;
  metrics::Counter* rejected_;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_PEER_TRANSPORT_H_
