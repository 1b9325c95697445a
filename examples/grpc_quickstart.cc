// Concordance over gRPC with the generated C++ stubs (docs/api.md, "gRPC"):
// a write, a read, a compare-and-swap conflict and a watch that replays it.
//
//   bazel run //examples:grpc_quickstart -- 127.0.0.1:4100
//
// The key comes from $CONCORDANCE_API_KEY (none when unset).
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "proto/concordance/v1/kv.grpc.pb.h"
#include "proto/concordance/v1/watch.grpc.pb.h"

namespace v1 = concordance::v1;

// Every call carries the key as `authorization: Bearer <key>`.
std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (const char* key = std::getenv("CONCORDANCE_API_KEY")) {
    ctx->AddMetadata("authorization", std::string("Bearer ") + key);
  }
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return ctx;
}

std::string Trailer(const grpc::ClientContext& ctx, const char* name) {
  auto it = ctx.GetServerTrailingMetadata().find(name);
  return it == ctx.GetServerTrailingMetadata().end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

int main(int argc, char** argv) {
  std::string target = argc > 1 ? argv[1] : "127.0.0.1:4100";
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto kv = v1::KV::NewStub(channel);

  v1::PutRequest put;
  put.set_namespace_("tenant:acme/settings");
  put.set_key("theme");
  put.set_value("{\"mode\": \"dark\"}");  // the value's JSON text
  v1::PutResponse written;
  auto ctx = Context();
  grpc::Status s = kv->Put(ctx.get(), put, &written);
  if (!s.ok()) {
    std::fprintf(stderr, "put: %s (%s)\n", s.error_message().c_str(),
                 Trailer(*ctx, "concordance-error-code").c_str());
    return 1;
  }
  const int64_t seq = written.seq();
  std::printf("put: version %lld, seq %lld\n",
              static_cast<long long>(written.version()),
              static_cast<long long>(seq));

  v1::GetRequest get;
  get.set_namespace_("tenant:acme/settings");
  get.set_key("theme");
  v1::Entry entry;
  ctx = Context();
  s = kv->Get(ctx.get(), get, &entry);
  if (!s.ok()) return 1;
  std::printf("get: %s = %s (version %lld, by %s)\n", entry.key().c_str(),
              entry.value().c_str(), static_cast<long long>(entry.version()),
              entry.updated_by().c_str());

  put.set_value("\"light\"");
  put.set_expected_version(written.version() + 5);  // not the current version
  ctx = Context();
  s = kv->Put(ctx.get(), put, &written);
  std::printf("cas: %s, code %d (%s), current version %s\n",
              s.error_message().c_str(), static_cast<int>(s.error_code()),
              Trailer(*ctx, "concordance-error-code").c_str(),
              Trailer(*ctx, "concordance-current-version").c_str());

  // Replay the tenant's changes from just before our write, then stop.
  auto watch = v1::Watch::NewStub(channel);
  v1::WatchRequest req;
  req.set_tenant("acme");
  req.set_from_seq(seq - 1);
  ctx = Context();
  auto reader = watch->Watch(ctx.get(), req);
  v1::WatchResponse r;
  if (reader->Read(&r))
    std::printf("watch: subscribed; last applied seq %lld\n",
                static_cast<long long>(r.seq()));
  if (reader->Read(&r)) {
    for (const v1::ChangeEvent& e : r.events()) {
      std::printf("watch: seq %lld %s %s/%s = %s\n",
                  static_cast<long long>(e.seq()), e.op().c_str(),
                  e.namespace_().c_str(), e.key().c_str(), e.value().c_str());
    }
  }
  ctx->TryCancel();
  reader->Finish();
  return 0;
}
