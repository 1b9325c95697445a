#include "absl/strings/str_cat.h"
#include "tools/benchmark/target.h"
#include "tools/client/client.h"

namespace concordance::benchmark {
namespace {

class Grpc final : public Target {
 public:
  Grpc(const TargetOptions& o, std::unique_ptr<client::Client> client)
      : ns_(o.ns), client_(std::move(client)) {}

  absl::Status Put(const std::string& key, const std::string& value_json) override {
    v1::PutRequest req;
    req.set_namespace_(ns_);
    req.set_key(key);
    req.set_value(value_json);
    return client_->Put(req).status();
  }

 private:
  const std::string ns_;
  std::unique_ptr<client::Client> client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> GrpcTarget(const TargetOptions& o) {
  client::Options co;
  co.endpoints = {o.endpoint};
  co.key = o.api_key;
  co.attempt_timeout = o.timeout;
  co.retry_for = std::chrono::milliseconds(0);  // a failure counts, as over REST
  co.private_connections = true;
  auto c = std::make_unique<client::Client>(co);
  // Connect now, so the run measures requests and not handshakes.
  absl::StatusOr<v1::StatusResponse> status = c->Status(o.endpoint);
  if (!status.ok()) return absl::UnavailableError(absl::StrCat(o.endpoint, ": ", status.status().message()));
  return std::unique_ptr<Target>(new Grpc(o, std::move(c)));
}

}  // namespace concordance::benchmark
