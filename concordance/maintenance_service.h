// MaintenanceService: the Maintenance API (gateway::MaintenanceApi) —
// backups (GET /api/v1/snapshot, Maintenance.Snapshot) and /metrics.
// Backups run on the maintenance worker, one at a time, each from a pinned
// read transaction, so the Raft loop goes on; at most two wait.
#ifndef CONCORDANCE_CONCORDANCE_MAINTENANCE_SERVICE_H_
#define CONCORDANCE_CONCORDANCE_MAINTENANCE_SERVICE_H_

#include <atomic>

#include "concordance/worker.h"
#include "gateway/api.h"
#include "storage/kv_store.h"
#include "util/metrics.h"

namespace concordance {

class MaintenanceService : public gateway::MaintenanceApi {
 public:
  // Not owned.
  MaintenanceService(storage::KvStore* store, Worker* worker, metrics::Registry* metrics)
      : store_(store), worker_(worker), metrics_(metrics) {}

  void Snapshot(const gateway::Caller& caller, gateway::Callback<std::string> done) override;
  absl::StatusOr<std::string> Metrics(const gateway::Caller& caller) override;

 private:
  static constexpr int kMaxQueuedBackups = 2;
  storage::KvStore* store_;
  Worker* worker_;
  metrics::Registry* metrics_;
  std::atomic<int> queued_{0};
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_MAINTENANCE_SERVICE_H_
