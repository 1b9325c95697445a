// Transport: how the driver hands Raft messages to peers. The peer manager
// implements it over /raft WebSockets; a single node needs none.
#ifndef CONCORDANCE_CONCORDANCE_TRANSPORT_H_
#define CONCORDANCE_CONCORDANCE_TRANSPORT_H_

#include <string>
#include <vector>

#include "proto/raft.pb.h"

namespace concordance {

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends each message to its `to` node; never blocks. Messages for an
  // unreachable peer may be dropped (Raft retransmits).
  virtual void Send(std::vector<raft::Message> messages) = 0;
  // The configuration changed: these are the members and their addresses;
  // `conf_index` is the log index of the entry that produced it.
  virtual void UpdatePeers(const raft::ConfState& conf, uint64_t conf_index) = 0;
  // Whether a recent attempt to reach `node_id` succeeded.
  virtual bool Reachable(const std::string& node_id) const = 0;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_TRANSPORT_H_
