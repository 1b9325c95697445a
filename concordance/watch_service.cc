#include "concordance/watch_service.h"

#include "concordance/request_rules.h"

namespace concordance {
namespace {

// Opens credentials in watch notifications on their way to a sink (on the
// hub's watch thread); passes flow control through.
class OpeningSink : public gateway::ChangeSink {
 public:
  OpeningSink(std::shared_ptr<gateway::ChangeSink> inner, const CredentialView* credentials)
      : inner_(std::move(inner)), credentials_(credentials) {}
  void OnChange(const std::string& id, std::shared_ptr<const v1::ChangeEvent> c) override {
    if (c->op() == "set" && storage::CredentialCipher::Applies(c->namespace_())) {
      auto copy = std::make_shared<v1::ChangeEvent>(*c);
      credentials_->Open(copy.get());
      c = std::move(copy);
    }
    inner_->OnChange(id, std::move(c));
  }
  void OnEnded(const std::string& id, absl::Status why) override { inner_->OnEnded(id, why); }
  bool HasRoom() const override { return inner_->HasRoom(); }
  void OnRoom(std::function<void()> fn) override { inner_->OnRoom(std::move(fn)); }

 private:
  std::shared_ptr<gateway::ChangeSink> inner_;
  const CredentialView* credentials_;
};

}  // namespace

void WatchService::Watch(const gateway::Caller& caller, const v1::WatchRequest& req,
                         std::shared_ptr<gateway::ChangeSink> sink,
                         gateway::Callback<gateway::WatchStarted> done) {
  absl::Status s = gateway::Authorize(caller, gateway::Method::kWatch);
  if (!s.ok()) return done(s);
  absl::StatusOr<storage::ChangeFilter> filter =
      ResolveTarget(req.has_tenant(), req.tenant(), req.has_namespace_(), req.namespace_(), limits_);
  if (!filter.ok()) return done(filter.status());
  if (req.has_from_seq() && req.from_seq() < 0) {
    return done(absl::InvalidArgumentError("\"fromSeq\" must be >= 0"));
  }
  s = driver_->CheckServing();
  if (!s.ok()) return done(s);
  Hub::Target target{req.has_tenant() ? req.tenant() : "", req.has_namespace_() ? req.namespace_() : "",
                     req.has_from_seq() ? std::optional<int64_t>(req.from_seq()) : std::nullopt};
  absl::StatusOr<gateway::WatchStarted> started =
      hub_->Subscribe(target, std::make_shared<OpeningSink>(std::move(sink), credentials_));
  std::string id = started.ok() ? started->watch_id : "";
  done(std::move(started));  // the start first, then the replayed and live changes
  if (!id.empty()) hub_->Start(id);
}

}  // namespace concordance
