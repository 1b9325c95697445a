// Outbound connections from a node: the sending half of the /raft peer
// transport (PeerDialer) and a plain HTTP call (used by --join). Beast stays
// inside client.cc.
#ifndef CONCORDANCE_GATEWAY_CLIENT_H_
#define CONCORDANCE_GATEWAY_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/tls.h"
#include "util/metrics.h"

namespace concordance::gateway {

// One WebSocket per peer, to ws://<address>/raft?nodeId=<self> with the
// peer key, kept open and re-opened after failures with exponential backoff
// and jitter. Messages queue in a bounded per-peer queue; while a peer is
// unreachable (or its queue is full) they are dropped — Raft retransmits.
// One thread serves every peer. Thread-safe.
class PeerDialer {
 public:
  struct Options {
    std::string self_id;
    std::string self_address;  // announced to peers so they can dial back
    std::string self_version;  // announced too (shown in their status)
    std::string peer_key;  // "" = send no Authorization header
    size_t max_queue = 4096;
    int backoff_min_ms = 50;
    int backoff_max_ms = 2000;
    int connect_timeout_ms = 2000;
    uint64_t seed = 1;
    // Called (on the dialer thread) when a peer closes our connection with
    // kPeerRemovedCloseCode: it says this node was removed. The reason text
    // names the configuration index.
    std::function<void(const std::string& peer_id, const std::string& reason)> on_removed;
    // Dial wss://: the peer's certificate is verified (its chain, the
    // dialed address, and the node id if required), and this node's own
    // is presented. Null: ws://.
    std::shared_ptr<TlsContexts> tls;
  };
  PeerDialer(Options options, metrics::Registry* metrics);
  ~PeerDialer();
  PeerDialer(const PeerDialer&) = delete;
  PeerDialer& operator=(const PeerDialer&) = delete;

  // The peers to keep connections to (id -> host:port); others are closed.
  void SetPeers(const std::map<std::string, std::string>& peers);
  // Queues one message: a text frame and, when `binary` is not empty, the
  // binary frame that must follow it. False when it was dropped.
  bool Send(const std::string& peer_id, std::string text, std::string binary);
  // Several frames at once (each: peer, text, binary), in order per peer,
  // as one task on the dialer's thread.
  struct Frame {
    std::string peer_id;
    std::string text;
    std::string binary;
  };
  void SendAll(std::vector<Frame> frames);
  // Whether the connection to `peer_id` is open.
  bool Connected(const std::string& peer_id) const;
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One HTTP/1.1 request to host:port, with a deadline, over TLS when `tls`
// is given (https://, verified as the peer dialer verifies). Unavailable
// when the server cannot be reached or does not answer in time.
absl::StatusOr<HttpReply> HttpCall(const std::string& host_port, const std::string& method,
                                   const std::string& target, const std::string& body,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   int timeout_ms, const TlsContexts* tls = nullptr);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_CLIENT_H_
