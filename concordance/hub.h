// Hub: the publish/subscribe fan-out of applied changes to watchers, with
// the topics of seed 004 (`tenant:{id}` and `ns:{namespace}`), resumable
// subscriptions (replay from the changelog, then live, with no gap and no
// duplicate) and long-poll waiters for GET /changes?wait=.
//
// How "no gap, no duplicate" holds: a subscription registers first (from
// then on every published change is buffered for it), then replays the
// changelog from `fromSeq`, then delivers the buffered changes it has not
// replayed, and goes live. Changes are published only after the
// transaction that wrote them commits, so everything published before the
// registration is already in the changelog the replay reads. Delivery skips
// any seq at or below the last one delivered.
//
// Threads: Publish runs on the Raft loop; Subscribe/Unsubscribe/waiters on
// any thread. Sinks are called under no lock of the caller's and never
// concurrently for one subscription.
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

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gateway/backend.h"
#include "storage/kv_store.h"
#include "util/metrics.h"

namespace concordance {

class Hub {
 public:
  struct Options {
    // Live changes held for one subscription while it replays.
    size_t max_buffered_during_replay = 100000;
    size_t replay_page = 1000;
  };
  Hub(const storage::KvStore* store, Options options, metrics::Registry* metrics);

  // Sets the newest seq published (at start: the store's last seq).
  void SetPublishedSeq(int64_t seq);

  // Publishes changes in seq order (the Raft loop, after each apply batch).
  void Publish(const std::vector<std::shared_ptr<const kv::ChangeEvent>>& changes);
  // After a snapshot replaced the state: replays to every live subscription
  // what it missed from the changelog (or ends it if that was compacted).
  void CatchUp();

  // Registers a validated subscription. With fromSeq it starts buffering
  // live changes and OutOfRange (payload kOldestSeqPayload) is returned at
  // once if fromSeq is already compacted; call Replay(id) after handing
  // the result to the client, so the result precedes the replayed changes.
  absl::StatusOr<gateway::SubscribeResult> Subscribe(const gateway::SubscribeRequest& req,
                                                     std::shared_ptr<gateway::ChangeSink> sink);
  // Replays the changelog after fromSeq, delivers what was buffered and
  // goes live (on the calling thread). A failure ends the subscription
  // through its sink.
  void Replay(const std::string& id);
  void Unsubscribe(const std::string& id);

  // Calls `fn` once, on the applying thread, when a change for `tenant`
  // (or namespace `ns`) with seq > after_seq is published. Returns a handle
  // for CancelWait (which returns false if `fn` already ran or is running),
  // or nullopt without registering anything when a change after after_seq
  // was already published: the caller should look again.
  std::optional<uint64_t> WaitForChange(const std::string& tenant, const std::string& ns,
                                        int64_t after_seq, std::function<void()> fn);
  bool CancelWait(uint64_t handle);

 private:
  struct Subscription {
    std::string id;
    std::string tenant, ns;
    std::shared_ptr<gateway::ChangeSink> sink;
    bool replaying = false;
    int64_t last_delivered = 0;
    std::vector<std::shared_ptr<const kv::ChangeEvent>> buffer;
    bool overflowed = false;
  };
  struct Waiter {
    std::string tenant, ns;
    int64_t after_seq;
    std::function<void()> fn;
  };
  static bool Matches(const std::string& tenant, const std::string& ns,
                      const kv::ChangeEvent& c) {
    return tenant.empty() ? c.namespace_() == ns : c.tenant_id() == tenant;
  }
  // Replays changelog rows after sub->last_delivered (up to what exists).
  absl::Status ReplayFromChangelog(const std::shared_ptr<Subscription>& sub);
  storage::ChangeFilter FilterOf(const Subscription& sub) const;

  const storage::KvStore* store_;
  Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Subscription>> subs_ ABSL_GUARDED_BY(mu_);
  // topic -> subscription ids ("tenant:" + id, "ns:" + namespace)
  std::map<std::string, std::set<std::string>> topics_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  int64_t published_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  metrics::Gauge* subscriptions_gauge_;
  metrics::Counter* delivered_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_HUB_H_
