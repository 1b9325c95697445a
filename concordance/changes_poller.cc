#include "concordance/changes_poller.h"

#include <atomic>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace concordance {

struct ChangesPoller::State {
  Query q;
  gateway::Callback<v1::ChangesResponse> done;
  std::atomic<bool> answered{false};
  // The first query runs on the caller's thread, wake-ups and the timer on
  // the watch thread, an abandonment on an I/O thread.
  absl::Mutex mu;
  bool expired ABSL_GUARDED_BY(mu) = false;  // wait over: answer what there is
  uint64_t wait_handle ABSL_GUARDED_BY(mu) = 0;
  bool counted ABSL_GUARDED_BY(mu) = false;  // in the waiting gauge
};

ChangesPoller::ChangesPoller(const storage::KvStore* store, Hub* hub,
                             const CredentialView* credentials, metrics::Registry* metrics)
    : store_(store), hub_(hub), credentials_(credentials) {
  waiting_ = metrics->GetGauge("concordance_changes_long_polls_waiting",
                               "GET /changes?wait= requests waiting for a change.");
  queries_ = metrics->GetCounter(
      "concordance_changes_long_poll_queries_total",
      "Changelog queries run for GET /changes (the first, and one per wake-up of a waiting "
      "long-poll by a change of its tenant or namespace).");
  abandoned_ = metrics->GetCounter(
      "concordance_changes_long_polls_abandoned_total",
      "Long-polls released early because their client closed the connection.");
}

void ChangesPoller::Poll(Query query, gateway::Callback<v1::ChangesResponse> done) {
  auto poll = std::make_shared<State>();
  std::shared_ptr<gateway::Cancellation> cancel = std::move(query.cancel);
  int64_t wait_ms = query.wait_ms;
  poll->q = std::move(query);  // (without `cancel`: the poll is held by its waiter)
  poll->done = std::move(done);
  if (wait_ms <= 0) {
    absl::MutexLock l(&poll->mu);
    poll->expired = true;
  } else {
    // While it waits, the hub's waiter holds the poll; the timer and the
    // cancellation only refer to it, so an answered poll (and the request
    // it answers) is freed at once.
    std::weak_ptr<State> weak = poll;
    hub_->worker()->RunAfter(static_cast<int>(wait_ms), [this, weak] {
      if (auto p = weak.lock()) Expire(p);
    });
    if (cancel) {
      cancel->OnCancel([this, weak] {
        if (auto p = weak.lock()) Abandon(p);
      });
    }
  }
  Run(poll);
}

void ChangesPoller::Run(const std::shared_ptr<State>& poll) {
  const Query& q = poll->q;
  while (!poll->answered.load()) {
    queries_->Inc();
    absl::StatusOr<storage::ChangesResult> r =
        store_->ChangesSince(q.since, q.filter, q.rows, q.max_page_bytes);
    if (!r.ok() || !r->changes.empty()) return Answer(poll, std::move(r));
    // Nothing new: wait for a change unless the wait is over. Registering
    // under poll->mu means the timer either sees this handle and cancels
    // it, or has already expired the poll and nothing is registered.
    absl::ReleasableMutexLock l(&poll->mu);
    if (poll->expired) {
      l.Release();
      return Answer(poll, std::move(r));
    }
    std::optional<uint64_t> handle =
        hub_->WaitForChange(q.filter.namespace_.empty() ? q.filter.tenant_id : "",
                            q.filter.namespace_, r->last_seq, [this, poll] { Run(poll); });
    if (!handle) continue;  // a change was published meanwhile: look again
    poll->wait_handle = *handle;
    if (!poll->counted) {
      poll->counted = true;
      waiting_->Add(1);
    }
    return;
  }
}

void ChangesPoller::Answer(const std::shared_ptr<State>& poll,
                           absl::StatusOr<storage::ChangesResult> r) {
  if (poll->answered.exchange(true)) return;
  {
    absl::MutexLock l(&poll->mu);
    if (poll->counted) waiting_->Add(-1);
    poll->counted = false;
  }
  auto done = std::exchange(poll->done, nullptr);
  if (!r.ok()) return done(r.status());
  v1::ChangesResponse out;
  for (v1::ChangeEvent& c : r->changes) {
    credentials_->Open(&c);
    *out.add_changes() = std::move(c);
  }
  out.set_next_seq(r->next_seq);
  out.set_oldest_seq(r->oldest_seq);
  done(std::move(out));
}

void ChangesPoller::Expire(const std::shared_ptr<State>& poll) {
  if (poll->answered.load()) return;
  uint64_t handle;
  {
    absl::MutexLock l(&poll->mu);
    poll->expired = true;
    handle = std::exchange(poll->wait_handle, 0);
  }
  if (handle != 0) hub_->CancelWait(handle);
  Run(poll);  // answers whatever is there
}

void ChangesPoller::Abandon(const std::shared_ptr<State>& poll) {
  if (poll->answered.exchange(true)) return;
  uint64_t handle;
  {
    absl::MutexLock l(&poll->mu);
    poll->expired = true;
    handle = std::exchange(poll->wait_handle, 0);
    if (poll->counted) waiting_->Add(-1);
    poll->counted = false;
  }
  if (handle != 0) hub_->CancelWait(handle);
  abandoned_->Inc();
  std::exchange(poll->done, nullptr)(absl::CancelledError("the client closed the connection"));
}

}  // namespace concordance
