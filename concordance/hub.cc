#include "concordance/hub.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "storage/validation.h"
#include "util/status_payloads.h"

namespace concordance {

Hub::Hub(const storage::KvStore* store, Options options, metrics::Registry* metrics)
    : store_(store), options_(options) {
  subscriptions_gauge_ =
      metrics->GetGauge("concordance_watch_subscriptions", "Active watch subscriptions.");
  delivered_ = metrics->GetCounter("concordance_watch_changes_delivered_total",
                                   "Changes handed to watch subscribers.");
}

void Hub::SetPublishedSeq(int64_t seq) {
  absl::MutexLock l(&mu_);
  published_seq_ = seq;
}

void Hub::Publish(const std::vector<std::shared_ptr<const kv::ChangeEvent>>& changes) {
  std::vector<std::function<void()>> woken;
  {
    absl::MutexLock l(&mu_);
    for (const auto& c : changes) {
      published_seq_ = std::max(published_seq_, c->seq());
      for (const std::string& topic : {"tenant:" + c->tenant_id(), "ns:" + c->namespace_()}) {
        auto t = topics_.find(topic);
        if (t == topics_.end()) continue;
        for (const std::string& id : t->second) {
          Subscription& sub = *subs_.at(id);
          if (sub.replaying) {
            if (sub.buffer.size() < options_.max_buffered_during_replay) {
              sub.buffer.push_back(c);
            } else {
              sub.overflowed = true;
            }
          } else if (c->seq() > sub.last_delivered) {
            sub.sink->OnChange(sub.id, c);
            sub.last_delivered = c->seq();
            delivered_->Inc();
          }
        }
      }
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (c->seq() > it->second.after_seq && Matches(it->second.tenant, it->second.ns, *c)) {
          woken.push_back(std::move(it->second.fn));
          it = waiters_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& fn : woken) fn();
}

storage::ChangeFilter Hub::FilterOf(const Subscription& sub) const {
  storage::ChangeFilter filter;
  filter.namespace_ = sub.ns;
  filter.tenant_id =
      sub.tenant.empty() ? storage::ExtractTenantId(sub.ns).value_or("") : sub.tenant;
  return filter;
}

absl::Status Hub::ReplayFromChangelog(const std::shared_ptr<Subscription>& sub) {
  storage::ChangeFilter filter = FilterOf(*sub);
  while (true) {
    absl::StatusOr<storage::ChangesResult> r =
        store_->ChangesSince(sub->last_delivered, filter, options_.replay_page);
    if (!r.ok()) return r.status();
    for (kv::ChangeEvent& c : r->changes) {
      int64_t seq = c.seq();
      sub->sink->OnChange(sub->id, std::make_shared<const kv::ChangeEvent>(std::move(c)));
      sub->last_delivered = seq;
      delivered_->Inc();
    }
    if (r->changes.size() < options_.replay_page) return absl::OkStatus();
  }
}

absl::StatusOr<gateway::SubscribeResult> Hub::Subscribe(
    const gateway::SubscribeRequest& req, std::shared_ptr<gateway::ChangeSink> sink) {
  if (req.from_seq) {
    absl::StatusOr<int64_t> oldest = store_->OldestSeq();
    if (!oldest.ok()) return oldest.status();
    if (*req.from_seq < *oldest - 1) {  // (from_seq + 1 could overflow)
      absl::Status s = absl::OutOfRangeError(absl::StrCat(
          "changes after seq ", *req.from_seq, " have been compacted; the oldest kept is ",
          *oldest, ": read the current state, then subscribe without fromSeq"));
      SetIntPayload(s, kOldestSeqPayload, *oldest);
      return s;
    }
  }
  auto sub = std::make_shared<Subscription>();
  sub->tenant = req.tenant;
  sub->ns = req.ns;
  sub->sink = std::move(sink);
  int64_t current;
  {
    absl::MutexLock l(&mu_);
    sub->id = absl::StrCat("s", ++next_id_);
    current = published_seq_;
    sub->replaying = req.from_seq.has_value();
    sub->last_delivered = req.from_seq.value_or(current);
    subs_[sub->id] = sub;
    topics_[req.tenant.empty() ? "ns:" + req.ns : "tenant:" + req.tenant].insert(sub->id);
    subscriptions_gauge_->Set(subs_.size());
  }
  return gateway::SubscribeResult{sub->id, current};
}

void Hub::Replay(const std::string& id) {
  std::shared_ptr<Subscription> sub;
  {
    absl::MutexLock l(&mu_);
    auto it = subs_.find(id);
    if (it == subs_.end() || !it->second->replaying) return;
    sub = it->second;
  }
  absl::Status s = ReplayFromChangelog(sub);
  bool overflowed;
  {
    absl::MutexLock l(&mu_);
    if (s.ok()) {
      // Deliver what was published during the replay, then go live. Held
      // under the lock so that no Publish interleaves with the flush.
      for (const auto& c : sub->buffer) {
        if (c->seq() > sub->last_delivered) {
          sub->sink->OnChange(sub->id, c);
          sub->last_delivered = c->seq();
          delivered_->Inc();
        }
      }
      sub->buffer.clear();
      sub->replaying = false;
    }
    overflowed = sub->overflowed;
  }
  if (s.ok() && overflowed) {
    s = absl::ResourceExhaustedError(absl::StrCat(
        "more than ", options_.max_buffered_during_replay,
        " changes arrived while replaying; subscribe again from the last seq received"));
  }
  if (!s.ok()) {
    Unsubscribe(sub->id);
    sub->sink->OnEnded(sub->id, s);
  }
}

void Hub::Unsubscribe(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  const Subscription& sub = *it->second;
  std::string topic = sub.tenant.empty() ? "ns:" + sub.ns : "tenant:" + sub.tenant;
  auto t = topics_.find(topic);
  if (t != topics_.end()) {
    t->second.erase(id);
    if (t->second.empty()) topics_.erase(t);
  }
  subs_.erase(it);
  subscriptions_gauge_->Set(subs_.size());
}

void Hub::CatchUp() {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    absl::MutexLock l(&mu_);
    for (auto& [id, sub] : subs_) {
      if (!sub->replaying) live.push_back(sub);
    }
  }
  // Runs on the Raft loop, so no Publish interleaves.
  for (const auto& sub : live) {
    absl::Status s = ReplayFromChangelog(sub);
    if (!s.ok()) {
      LOG(INFO) << "watch " << sub->id << " ends after a snapshot install: " << s;
      sub->sink->OnEnded(sub->id, s);
      Unsubscribe(sub->id);
    }
  }
  absl::StatusOr<int64_t> last = store_->LastSeq();
  std::vector<std::function<void()>> woken;
  {
    absl::MutexLock l(&mu_);
    if (last.ok()) published_seq_ = *last;
    for (auto& [h, w] : waiters_) woken.push_back(std::move(w.fn));
    waiters_.clear();
  }
  for (auto& fn : woken) fn();
}

std::optional<uint64_t> Hub::WaitForChange(const std::string& tenant, const std::string& ns,
                                           int64_t after_seq, std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  if (published_seq_ > after_seq) return std::nullopt;
  uint64_t handle = ++next_id_;
  waiters_[handle] = Waiter{tenant, ns, after_seq, std::move(fn)};
  return handle;
}

bool Hub::CancelWait(uint64_t handle) {
  absl::MutexLock l(&mu_);
  return waiters_.erase(handle) > 0;
}

}  // namespace concordance
