// The /raft wire as the node sees it (design.md §1): the two interfaces
// between the Raft driver in concordance/ and the peer transport here.
//
//   RaftTransport — what the driver sends through: messages to peers, the
//                   configuration's members and their addresses.
//   RaftInbox     — where the transport puts what peers sent: decoded,
//                   checked raft::Messages, one method.
//
// gateway/ owns both; concordance/ implements the inbox (the driver) and
// uses the transport (gateway::PeerTransport). The wire format itself is in
// raft_codec.h.
#ifndef CONCORDANCE_GATEWAY_RAFT_TRANSPORT_H_
#define CONCORDANCE_GATEWAY_RAFT_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "proto/raft.pb.h"

namespace concordance::gateway {

class RaftTransport {
 public:
  virtual ~RaftTransport() = default;
  // Sends each message to its `to` node; never blocks. Messages for an
  // unreachable peer may be dropped (Raft retransmits). Thread-safe.
  virtual void Send(std::vector<raft::Message> messages) = 0;
  // The configuration changed: these are the members and their addresses;
  // `conf_index` is the log index of the entry that produced it.
  virtual void UpdatePeers(const raft::ConfState& conf, uint64_t conf_index) = 0;
  // Whether a recent attempt to reach `node_id` succeeded.
  virtual bool Reachable(const std::string& node_id) const = 0;
  // The version `node_id` announced when it last connected ("" if it has
  // not, or announced none).
  virtual std::string PeerVersion(const std::string& node_id) const = 0;
};

class RaftInbox {
 public:
  virtual ~RaftInbox() = default;
  // Queues a message from a peer (`bytes`: its size on the wire). False
  // when the inbox is full: the message is queued, but the sender's link
  // should read no more until `on_room` is called (once, on any thread).
  virtual bool Deliver(raft::Message m, size_t bytes, std::function<void()> on_room) = 0;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_RAFT_TRANSPORT_H_
