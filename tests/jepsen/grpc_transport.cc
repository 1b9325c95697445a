// The gRPC transport of HistoryClient: concordance.v1 through
// //tools/client (leader following; reads retried, writes only when they
// provably did not apply; Indeterminate() says when one may have).
#include "absl/strings/str_cat.h"
#include "tests/jepsen/history_client.h"
#include "tools/client/client.h"

namespace concordance::jepsen {
namespace {

// A JSON string value without its quotes (the values written here need no
// escapes).
std::string Unquoted(const std::string& json) {
  return json.size() >= 2 && json.front() == '"' && json.back() == '"' ? json.substr(1, json.size() - 2) : json;
}

class Grpc final : public Transport {
 public:
  Grpc(std::vector<std::string> endpoints, std::string ns, std::string key) : ns_(std::move(ns)) {
    client::Options o;
    o.endpoints = std::move(endpoints);
    o.key = std::move(key);
    o.attempt_timeout = std::chrono::milliseconds(7000);  // beyond the proposal timeout, as over REST
    o.retry_for = std::chrono::milliseconds(7000);
    client_ = std::make_unique<client::Client>(o);
  }

  Answer Get(const std::string& key) override {
    v1::GetRequest req;
    req.set_namespace_(ns_);
    req.set_key(key);
    req.set_consistency(v1::LINEARIZABLE);
    auto r = client_->Get(req);
    Answer a;
    if (r.ok()) {
      a.outcome = Outcome::kOk;
      a.value = Unquoted(r->value());
      a.version = r->version();
    } else if (absl::IsNotFound(r.status())) {
      a.outcome = Outcome::kNotFound;
    }
    return a;
  }

  Answer Put(const std::string& key, const std::string& value, std::optional<int64_t> expected) override {
    v1::PutRequest req;
    req.set_namespace_(ns_);
    req.set_key(key);
    req.set_value(absl::StrCat("\"", value, "\""));
    if (expected) req.set_expected_version(*expected);
    auto r = client_->Put(req);
    Answer a;
    if (r.ok()) {
      a.outcome = Outcome::kOk;
      a.version = r->version();
    } else if (client::ErrorCode(r.status()) == "version_conflict") {
      a.outcome = Outcome::kConflict;
    } else {
      a.keep = client::Indeterminate(r.status());
    }
    return a;
  }

  Answer Delete(const std::string& key) override {
    v1::DeleteRequest req;
    req.set_namespace_(ns_);
    req.set_key(key);
    auto r = client_->Delete(req);
    Answer a;
    if (r.ok()) {
      a.outcome = Outcome::kOk;
    } else if (absl::IsNotFound(r.status())) {
      a.outcome = Outcome::kNotFound;
    } else {
      a.keep = client::Indeterminate(r.status());
    }
    return a;
  }

 private:
  const std::string ns_;
  std::unique_ptr<client::Client> client_;
};

}  // namespace

std::unique_ptr<Transport> GrpcTransport(std::vector<std::string> endpoints, std::string ns, std::string key) {
  return std::make_unique<Grpc>(std::move(endpoints), std::move(ns), std::move(key));
}

}  // namespace concordance::jepsen
