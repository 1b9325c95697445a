// Server: the single listening port (design.md §1) on Boost.Beast/Asio —
// HTTP/1.1 with keep-alive for /api/v1/* and /metrics, WebSocket upgrades
// for /stream (JSON-RPC) and /raft (peer transport), and connections that
// open with the HTTP/2 preface handed to the gRPC server. Beast stays
// inside server.cc; nothing that includes this header pays for it.
//
// Threads: `io_threads` threads run the I/O context. Each connection is
// served on its own strand. Stop() is graceful: no new connections, idle
// keep-alive connections closed, in-flight requests answered, WebSockets
// closed with a close frame (1001 going away) — clients first, then the
// /raft links.
#ifndef CONCORDANCE_GATEWAY_SERVER_H_
#define CONCORDANCE_GATEWAY_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gateway/auth.h"
#include "gateway/api.h"
#include "gateway/grpc_server.h"
#include "gateway/peer_transport.h"
#include "gateway/rest_handler.h"
#include "gateway/rpc_connection.h"
#include "gateway/tls.h"
#include "storage/validation.h"
#include "util/metrics.h"

namespace concordance::gateway {

class Server {
 public:
  struct Options {
    // The bound, listening socket to serve (gateway/listener.h); the server
    // takes ownership in Start().
    int listen_fd = -1;
    bool listen_ipv6 = false;
    int io_threads = 2;
    storage::Limits limits;
    int header_timeout_ms = 30000;  // to receive a whole request head
    int idle_timeout_ms = 60000;    // keep-alive connection with no request
    int ws_idle_timeout_ms = 60000;  // WebSocket silence before a ping
    size_t ws_send_queue_messages = 4096;  // per /stream connection
    size_t ws_send_queue_bytes = 64 << 20;
    size_t max_connections = 10000;     // HTTP and /stream clients
    size_t max_peer_connections = 64;   // /raft, never taken by clients
    // A connection accepted while every client slot is taken may only
    // become a /raft session, and must say so within this time.
    int probation_timeout_ms = 5000;
    RpcConnection::Options rpc;
    // Serve TLS only (null: cleartext). Every path and gRPC run over it: a
    // connection's decrypted bytes are served as a cleartext one's.
    std::shared_ptr<TlsContexts> tls;
  };

  // `api` serves REST and /stream; `peers` serves /raft (null: /raft is
  // refused); `grpc` takes connections that open with the HTTP/2 preface
  // (null: they are served as HTTP/1.1, and fail). Not owned.
  Server(Options options, Api api, const Authenticator* auth, PeerTransport* peers,
         GrpcServer* grpc, metrics::Registry* metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts accepting on the listening socket and runs the I/O threads.
  absl::Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Runs `fn` on an I/O thread, after every task posted here before it and
  // never at the same time as one (a strand). For work that ends in
  // writing responses: the node driver's answers to applied writes.
  void PostInOrder(std::function<void()> fn);
  // The first half of a graceful stop: no new connections, idle clients
  // closed, in-flight requests answered (for up to `grace_ms`), while the
  // /raft links stay up so those requests can still commit.
  void StopClients(int grace_ms = 5000);
  // Graceful stop (StopClients first if not done); returns once every
  // connection is closed or the grace passed, and the I/O threads have
  // exited.
  void Stop(int grace_ms = 5000);

  class Impl;  // defined in server.cc, where Beast lives

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_SERVER_H_
