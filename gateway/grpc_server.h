// GrpcServer: the concordance.v1 gRPC services (design.md §13) on the node's
// one port. It owns a grpc::Server with no listening port of its own: the
// Beast server recognises a connection whose first bytes are the HTTP/2
// client preface and hands its socket over (AddConnection). The services
// use gRPC's callback API and call the same API (gateway/api.h) as REST and
// /stream, so no gRPC thread ever blocks on Raft. The standard
// grpc.health.v1.Health service and server reflection (v1alpha) are served
// too and need no key; the others take `authorization: Bearer <key>` and
// `x-concordance-actor` metadata.
//
// Errors carry the REST error code and the details of §13 as trailing
// metadata (concordance-error-code, -leader-id, -leader-address,
// -current-version, -op-index, -oldest-seq). gRPC is kept out of this
// header: nothing that includes it pays for gRPC's.
#ifndef CONCORDANCE_GATEWAY_GRPC_SERVER_H_
#define CONCORDANCE_GATEWAY_GRPC_SERVER_H_

#include <memory>

#include "absl/status/status.h"
#include "gateway/api.h"
#include "gateway/auth.h"
#include "storage/validation.h"

namespace concordance::gateway {

class GrpcServer {
 public:
  struct Options {
    storage::Limits limits;  // the receive limit is the body limit
    // A watcher whose unsent responses pass either bound ends with
    // RESOURCE_EXHAUSTED (as a /stream client is disconnected).
    size_t watch_queue_messages = 4096;
    size_t watch_queue_bytes = 64 << 20;
    // A connection with no call in flight this long is closed (GOAWAY).
    int idle_timeout_ms = 5 * 60 * 1000;
  };
  // Not owned.
  GrpcServer(Options options, Api api, const Authenticator* auth);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  absl::Status Start();
  // Serves a connection whose first bytes (still unread) are the HTTP/2
  // client preface; takes ownership of `fd`. Any thread.
  void AddConnection(int fd);
  // Ends every call (waiting up to `grace_ms` for them) and the server.
  void Stop(int grace_ms);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_GRPC_SERVER_H_
