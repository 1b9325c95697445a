// ChangesService: the Changes API (gateway::ChangesApi) — GET
// /api/v1/changes and Changes.List. It checks the request once (access,
// tenant-or-namespace, since, page rows, wait) and hands it to the
// ChangesPoller, which answers at once or long-polls.
#ifndef CONCORDANCE_CONCORDANCE_CHANGES_SERVICE_H_
#define CONCORDANCE_CONCORDANCE_CHANGES_SERVICE_H_

#include "concordance/changes_poller.h"
#include "concordance/node_driver.h"
#include "gateway/api.h"
#include "storage/validation.h"

namespace concordance {

class ChangesService : public gateway::ChangesApi {
 public:
  // Not owned.
  ChangesService(storage::Limits limits, size_t max_page_bytes, ChangesPoller* poller,
                 const NodeDriver* driver)
      : limits_(limits), max_page_bytes_(max_page_bytes), poller_(poller), driver_(driver) {}

  void List(const gateway::Caller& caller, const v1::ChangesRequest& req,
            std::shared_ptr<gateway::Cancellation> cancel,
            gateway::Callback<v1::ChangesResponse> done) override;

 private:
  storage::Limits limits_;
  size_t max_page_bytes_;
  ChangesPoller* poller_;
  const NodeDriver* driver_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_CHANGES_SERVICE_H_
