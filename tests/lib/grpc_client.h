// Generated-stub gRPC clients for tests: a channel to a node's one port and
// a ClientContext that carries a key and an actor, as services would.
#ifndef CONCORDANCE_TESTS_LIB_GRPC_CLIENT_H_
#define CONCORDANCE_TESTS_LIB_GRPC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

namespace concordance::testing {

inline std::shared_ptr<grpc::Channel> GrpcChannel(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), args);
}

// A context with `authorization: Bearer <key>` (none when empty), an
// optional actor, and a deadline.
inline std::unique_ptr<grpc::ClientContext> GrpcContext(
    const std::string& key, const std::string& actor = "",
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!key.empty()) ctx->AddMetadata("authorization", "Bearer " + key);
  if (!actor.empty()) ctx->AddMetadata("x-concordance-actor", actor);
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

// A trailing metadata value of a finished call ("" when absent).
inline std::string Trailer(const grpc::ClientContext& ctx, const std::string& name) {
  auto it = ctx.GetServerTrailingMetadata().find(name);
  if (it == ctx.GetServerTrailingMetadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_LIB_GRPC_CLIENT_H_
