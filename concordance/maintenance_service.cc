#include "concordance/maintenance_service.h"

namespace concordance {

void MaintenanceService::Snapshot(const gateway::Caller& caller,
                                  gateway::Callback<std::string> done) {
  absl::Status s = gateway::Authorize(caller, gateway::Method::kSnapshot);
  if (!s.ok()) return done(s);
  if (queued_.fetch_add(1) >= kMaxQueuedBackups) {
    queued_.fetch_sub(1);
    return done(absl::UnavailableError("backups already in progress; retry when they are done"));
  }
  worker_->Post([this, done = std::move(done)]() mutable {
    absl::StatusOr<std::string> image;
    {
      absl::StatusOr<std::unique_ptr<storage::KvStore::Pinned>> pinned = store_->Pin();
      image = pinned.ok() ? (*pinned)->Serialize() : absl::StatusOr<std::string>(pinned.status());
    }  // the read transaction ends here
    queued_.fetch_sub(1);
    done(std::move(image));
  });
}

absl::StatusOr<std::string> MaintenanceService::Metrics(const gateway::Caller& caller) {
  absl::Status s = gateway::Authorize(caller, gateway::Method::kMetrics);
  if (!s.ok()) return s;
  return metrics_->Render();
}

}  // namespace concordance
