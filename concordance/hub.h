// Hub: the publish/subscribe fan-out of applied changes to watchers, with
// the topics of seed 004 (`tenant:{id}` and `ns:{namespace}`), resumable
// subscriptions (replay from the changelog, then live, with no gap and no
// duplicate) and long-poll waiters for GET /changes?wait=.
//
// Everything slow runs on the hub's own thread ("watch"), never on the Raft
// loop and never under the hub's lock: Publish only queues the applied
// batch; the watch thread picks the matching subscriptions and waiters
// under the lock (an index lookup per topic, not a scan), then calls the
// sinks (which encode, and decrypt credentials) with the lock released.
//
// How "no gap, no duplicate" holds: every subscription starts by replaying
// the changelog after its start seq (fromSeq, or the seq the subscribe
// result announced), one page at a time on the watch thread, and only then
// goes live. Changes are published after the transaction that wrote them
// commits, so a page read after a batch was handed to the watch thread
// contains it; live batches skip a subscription that is still replaying,
// and delivery skips any seq at or below the last one delivered. Because
// one thread does both, a subscription's changes arrive in seq order.
//
// Replays are paced by the sink (ChangeSink::HasRoom/OnRoom): the next page
// is read only when the connection's unsent output has room, so a client
// replaying a large changelog on many subscriptions holds at most a few
// pages in memory. A subscription whose next rows were trimmed by retention
// while it waited ends with OutOfRange (compacted).
//
// Threads: Publish and CatchUp on the Raft loop; the rest on any thread.
// Sinks are called on the watch thread only, so never concurrently.
#ifndef CONCORDANCE_CONCORDANCE_HUB_H_
#define CONCORDANCE_CONCORDANCE_HUB_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "concordance/worker.h"
#include "gateway/api.h"
#include "storage/kv_store.h"
#include "util/metrics.h"

namespace concordance {

class Hub {
 public:
  struct Options {
    // One page of a replay: at most this many rows and (past the first
    // row) this many bytes of values.
    size_t replay_page_rows = 256;
    size_t replay_page_bytes = 1 << 20;
  };
  Hub(const storage::KvStore* store, Options options, metrics::Registry* metrics);
  ~Hub();

  // Ends the watch thread: nothing is delivered after it returns.
  void Stop();
  // Ends every subscription with `why` (on the watch thread, after what
  // it was given already), for a node that is shutting down.
  void EndAll(absl::Status why);

  // Sets the newest seq published (at start: the store's last seq).
  void SetPublishedSeq(int64_t seq);

  using Changes = std::vector<std::shared_ptr<const v1::ChangeEvent>>;
  // Hands changes (in seq order, just applied) to the watch thread.
  void Publish(Changes changes);
  // Marks changes through `last_seq` (just applied) published, and hands
  // them — made by `build`, only when someone listens — to the watch
  // thread. With no subscription and no waiter, that costs no copy and no
  // wake-up of the watch thread: a subscription or waiter that arrives
  // later starts past `last_seq` or replays it from the changelog.
  void Publish(int64_t last_seq, absl::FunctionRef<Changes()> build);
  // After a snapshot replaced the state: every live subscription replays
  // what it missed from the new changelog (or ends if that was compacted),
  // and every long-poll waiter looks again.
  void CatchUp();

  // What a subscription watches: one tenant or (tenant empty) one
  // namespace, from a seq or (nullopt) from now.
  struct Target {
    std::string tenant;
    std::string ns;
    std::optional<int64_t> from_seq;
  };
  // Registers a validated subscription; nothing is delivered before
  // Start(id), so the caller can hand the result to the client first.
  // OutOfRange (payload kOldestSeqPayload) when fromSeq is compacted.
  absl::StatusOr<gateway::WatchStarted> Subscribe(const Target& target,
                                                  std::shared_ptr<gateway::ChangeSink> sink);
  // Replays the changelog after the start seq, then goes live. A failure
  // ends the subscription through its sink.
  void Start(const std::string& id);
  void Unsubscribe(const std::string& id);

  // Calls `fn` once, on the watch thread, when a change for `tenant` (or
  // namespace `ns`) with seq > after_seq is published. Returns a handle for
  // CancelWait (false if `fn` already ran or is running), or nullopt
  // without registering anything when a change after after_seq was already
  // published: the caller should look again.
  std::optional<uint64_t> WaitForChange(const std::string& tenant, const std::string& ns,
                                        int64_t after_seq, std::function<void()> fn);
  bool CancelWait(uint64_t handle);

  // The watch thread, for work that belongs with it (long-poll queries and
  // their timers).
  Worker* worker() { return &worker_; }

 private:
  enum class State { kPending, kReplaying, kLive, kEnded };
  struct Subscription {
    std::string id;
    std::string topic;  // "tenant:" + id or "ns:" + namespace
    storage::ChangeFilter filter;
    std::shared_ptr<gateway::ChangeSink> sink;
    State state = State::kPending;   // guarded by Hub::mu_
    int64_t last_delivered = 0;      // watch thread (set before Start)
  };
  struct Waiter {
    std::string topic;
    int64_t after_seq;
    std::function<void()> fn;
  };

  // Watch thread.
  void Deliver(const std::vector<std::shared_ptr<const v1::ChangeEvent>>& changes);
  void ReplayPage(const std::shared_ptr<Subscription>& sub);
  void End(const std::shared_ptr<Subscription>& sub, absl::Status why);
  void CatchUpOnWatchThread();
  void RemoveLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const storage::KvStore* store_;
  Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Subscription>> subs_ ABSL_GUARDED_BY(mu_);
  // topic -> subscriptions and waiters on it
  std::map<std::string, std::set<std::string>> topics_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<uint64_t>> waiter_topics_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  int64_t published_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  metrics::Gauge* subscriptions_gauge_;
  metrics::Counter* delivered_;
  Worker worker_;  // last: stopped (in ~Hub) before the state it uses goes
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_HUB_H_
