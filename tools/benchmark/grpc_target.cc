// concordance.v1 over gRPC through tools/client.
#include "absl/strings/str_cat.h"
#include "tools/benchmark/target.h"
#include "tools/client/client.h"

namespace concordance::benchmark {
namespace {

class Grpc final : public Target {
 public:
  Grpc(const TargetOptions& o, std::unique_ptr<client::Client> client)
      : ns_(o.ns), client_(std::move(client)) {}

  absl::StatusOr<Written> Put(const std::string& ns, const std::string& key,
                              const std::string& value_json,
                              std::optional<int64_t> expected_version) override {
    v1::PutRequest req;
    req.set_namespace_(ns.empty() ? ns_ : ns);
    req.set_key(key);
    req.set_value(value_json);
    if (expected_version) req.set_expected_version(*expected_version);
    auto r = client_->Put(req);
    if (!r.ok()) return r.status();
    return Written{r->version(), r->seq()};
  }

  absl::StatusOr<int64_t> Get(const std::string& key) override {
    v1::GetRequest req;
    req.set_namespace_(ns_);
    req.set_key(key);
    auto r = client_->Get(req);
    if (!r.ok()) return r.status();
    return r->version();
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
  if (!o.tls_ca_file.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = client::TlsCredentials(o.tls_ca_file);
    if (!creds.ok()) return creds.status();
    co.credentials = *std::move(creds);
  }
  auto c = std::make_unique<client::Client>(co);
  // Connect now, so the run measures requests and not handshakes.
  absl::StatusOr<v1::StatusResponse> status = c->Status(o.endpoint);
  if (!status.ok()) return absl::UnavailableError(absl::StrCat(o.endpoint, ": ", status.status().message()));
  return std::unique_ptr<Target>(new Grpc(o, std::move(c)));
}

}  // namespace concordance::benchmark
