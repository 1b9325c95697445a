// ChangesPoller: GET /api/v1/changes, with its long-poll (`wait=MS`): the
// changes after `since`, or — when there are none yet and the request may
// wait — the first ones a later apply brings, or an empty page when the
// wait ends.
//
// Waiting costs no thread: the poll registers a waiter with the hub, which
// wakes it (on the hub's watch thread, off the Raft loop) only for a change
// of its own tenant or namespace; the query then runs there. A client that
// goes away while waiting (gateway::Cancellation) releases its waiter at
// once.
//
// Thread-safe.
#ifndef CONCORDANCE_CONCORDANCE_CHANGES_POLLER_H_
#define CONCORDANCE_CONCORDANCE_CHANGES_POLLER_H_

#include <memory>

#include "concordance/credential_view.h"
#include "concordance/hub.h"
#include "gateway/api.h"
#include "storage/kv_store.h"
#include "util/metrics.h"

namespace concordance {

class ChangesPoller {
 public:
  // Not owned; all must outlive the poller and every poll in flight (the
  // hub's Stop() ends them).
  ChangesPoller(const storage::KvStore* store, Hub* hub, const CredentialView* credentials,
                metrics::Registry* metrics);

  // A checked request: the changes of `filter` after `since`, at most
  // `rows` rows and about `max_page_bytes`; with wait_ms > 0, waiting that
  // long for one. `cancel` (may be null) fires if the client goes away.
  struct Query {
    storage::ChangeFilter filter;
    int64_t since = 0;
    int rows = 100;
    int64_t wait_ms = 0;
    size_t max_page_bytes = storage::kNoByteLimit;
    std::shared_ptr<gateway::Cancellation> cancel;
  };
  void Poll(Query query, gateway::Callback<v1::ChangesResponse> done);

 private:
  struct State;
  // Answers if there is something to answer (or the wait is over),
  // otherwise registers a waiter.
  void Run(const std::shared_ptr<State>& poll);
  void Answer(const std::shared_ptr<State>& poll, absl::StatusOr<storage::ChangesResult> r);
  void Expire(const std::shared_ptr<State>& poll);
  void Abandon(const std::shared_ptr<State>& poll);

  const storage::KvStore* store_;
  Hub* hub_;
  const CredentialView* credentials_;
  metrics::Gauge* waiting_;
  metrics::Counter* abandoned_;
  metrics::Counter* queries_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_CHANGES_POLLER_H_
