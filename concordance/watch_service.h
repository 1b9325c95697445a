// WatchService: the Watch API (gateway::WatchApi) — /stream
// watch/subscribe and Watch.Watch. It checks the request once (access,
// tenant-or-namespace, from_seq), opens credentials on their way to the
// sink, and runs the watch on the Hub: the start first, then the replay
// (with from_seq) and the live changes, with no gap and no duplicate.
#ifndef CONCORDANCE_CONCORDANCE_WATCH_SERVICE_H_
#define CONCORDANCE_CONCORDANCE_WATCH_SERVICE_H_

#include "concordance/credential_view.h"
#include "concordance/hub.h"
#include "concordance/node_driver.h"
#include "gateway/api.h"
#include "storage/validation.h"

namespace concordance {

class WatchService : public gateway::WatchApi {
 public:
  // Not owned.
  WatchService(storage::Limits limits, Hub* hub, const CredentialView* credentials,
               const NodeDriver* driver)
      : limits_(limits), hub_(hub), credentials_(credentials), driver_(driver) {}

  void Watch(const gateway::Caller& caller, const v1::WatchRequest& req,
             std::shared_ptr<gateway::ChangeSink> sink,
             gateway::Callback<gateway::WatchStarted> done) override;
  void Unwatch(const std::string& watch_id) override { hub_->Unsubscribe(watch_id); }

 private:
  storage::Limits limits_;
  Hub* hub_;
  const CredentialView* credentials_;
  const NodeDriver* driver_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_WATCH_SERVICE_H_
