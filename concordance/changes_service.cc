#include "concordance/changes_service.h"

#include "concordance/request_rules.h"

namespace concordance {

void ChangesService::List(const gateway::Caller& caller, const v1::ChangesRequest& req,
                          std::shared_ptr<gateway::Cancellation> cancel,
                          gateway::Callback<v1::ChangesResponse> done) {
  absl::Status s = gateway::Authorize(caller, gateway::Method::kChanges);
  if (!s.ok()) return done(s);
  absl::StatusOr<storage::ChangeFilter> filter =
      ResolveTarget(req.has_tenant(), req.tenant(), req.has_namespace_(), req.namespace_(), limits_);
  if (!filter.ok()) return done(filter.status());
  if (req.since() < 0) return done(absl::InvalidArgumentError("since must be >= 0"));
  if (req.wait_ms() < 0) return done(absl::InvalidArgumentError("wait must be >= 0"));
  absl::StatusOr<int> rows = PageRows(req.has_limit() ? std::optional<int64_t>(req.limit())
                                                      : std::nullopt);
  if (!rows.ok()) return done(rows.status());
  s = driver_->CheckServing();
  if (!s.ok()) return done(s);
  ChangesPoller::Query q;
  q.filter = std::move(*filter);
  q.since = req.since();
  q.rows = *rows;
  q.wait_ms = std::min(req.wait_ms(), kMaxWaitMs);
  q.max_page_bytes = max_page_bytes_;
  q.cancel = std::move(cancel);
  poller_->Poll(std::move(q), std::move(done));
}

}  // namespace concordance
