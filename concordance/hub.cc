#include "concordance/hub.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "storage/validation.h"
#include "util/failpoint.h"
#include "util/status_payloads.h"

namespace concordance {
namespace {

std::string TopicOf(const std::string& tenant, const std::string& ns) {
  return tenant.empty() ? "ns:" + ns : "tenant:" + tenant;
}

}  // namespace

Hub::Hub(const storage::KvStore* store, Options options,
         metrics::Registry* metrics)
    : store_(store), options_(options), worker_("watch") {
  subscriptions_gauge_ = metrics->GetGauge("concordance_watch_subscriptions",
                                           "Active watch subscriptions.");
  delivered_ = metrics->GetCounter("concordance_watch_changes_delivered_total",
                                   "Changes handed to watch subscribers.");
}

Hub::~Hub() { Stop(); }

void Hub::Stop() { worker_.Stop(); }

void Hub::EndAll(absl::Status why) {
  worker_.Post([this, why = std::move(why)] {
    std::vector<std::shared_ptr<Subscription>> all;
    {
      absl::MutexLock l(&mu_);
      for (const auto& [id, sub] : subs_) all.push_back(sub);
    }
    for (const auto& sub : all) End(sub, why);
  });
}

void Hub::SetPublishedSeq(int64_t seq) {
  absl::MutexLock l(&mu_);
  published_seq_ = seq;
}

void Hub::Publish(int64_t last_seq, absl::FunctionRef<Changes()> build) {
  {
    absl::MutexLock l(&mu_);
    published_seq_ = std::max(published_seq_, last_seq);
    if (subs_.empty() && waiters_.empty()) return;
  }
  Changes changes = build();
  if (changes.empty()) return;
  worker_.Post([this, changes = std::move(changes)] { Deliver(changes); });
}

void Hub::Publish(Changes changes) {
  if (changes.empty()) return;
  {
    absl::MutexLock l(&mu_);
    published_seq_ = std::max(published_seq_, changes.back()->seq());
  }
  worker_.Post([this, changes = std::move(changes)] { Deliver(changes); });
}

void Hub::Deliver(
    const std::vector<std::shared_ptr<const v1::ChangeEvent>>& changes) {
  std::vector<std::pair<std::shared_ptr<Subscription>,
                        std::shared_ptr<const v1::ChangeEvent>>>
      out;
  std::vector<std::function<void()>> woken;
  {
    absl::MutexLock l(&mu_);
    for (const auto& c : changes) {
      for (const std::string& topic :
           {"tenant:" + c->tenant_id(), "ns:" + c->namespace_()}) {
        auto t = topics_.find(topic);
        if (t != topics_.end()) {
          for (const std::string& id : t->second) {
            const std::shared_ptr<Subscription>& sub = subs_.at(id);
            if (sub->state != State::kLive || c->seq() <= sub->last_delivered)
              continue;
            sub->last_delivered = c->seq();
            out.emplace_back(sub, c);
          }
        }
        auto w = waiter_topics_.find(topic);
        if (w == waiter_topics_.end()) continue;
        for (auto h = w->second.begin(); h != w->second.end();) {
          auto it = waiters_.find(*h);
          if (c->seq() > it->second.after_seq) {
            woken.push_back(std::move(it->second.fn));
            waiters_.erase(it);
            h = w->second.erase(h);
          } else {
            ++h;
          }
        }
        if (w->second.empty()) waiter_topics_.erase(w);
      }
    }
  }
  for (auto& [sub, c] : out) sub->sink->OnChange(sub->id, c);
  delivered_->Inc(out.size());
  for (auto& fn : woken) fn();
}

absl::StatusOr<gateway::WatchStarted> Hub::Subscribe(
    const Target& req, std::shared_ptr<gateway::ChangeSink> sink) {
  if (req.from_seq) {
    absl::StatusOr<int64_t> oldest = store_->OldestSeq();
    if (!oldest.ok()) return oldest.status();
    if (*req.from_seq < *oldest - 1) {  // (from_seq + 1 could overflow)
      absl::Status s = absl::OutOfRangeError(absl::StrCat(
          "changes after seq ", *req.from_seq,
          " have been compacted; the oldest kept is ", *oldest,
          ": read the current state, then subscribe without fromSeq"));
      SetIntPayload(s, kOldestSeqPayload, *oldest);
      return s;
    }
  }
  auto sub = std::make_shared<Subscription>();
  sub->topic = TopicOf(req.tenant, req.ns);
  sub->filter.namespace_ = req.ns;
  sub->filter.tenant_id = req.tenant.empty()
                              ? storage::ExtractTenantId(req.ns).value_or("")
                              : req.tenant;
  sub->sink = std::move(sink);
  int64_t current;
  {
    absl::MutexLock l(&mu_);
    sub->id = absl::StrCat("s", ++next_id_);
    current = published_seq_;
    sub->last_delivered = req.from_seq.value_or(current);
    subs_[sub->id] = sub;
    topics_[sub->topic].insert(sub->id);
    subscriptions_gauge_->Set(subs_.size());
  }
  return gateway::WatchStarted{sub->id, current};
}

void Hub::Start(const std::string& id) {
  std::shared_ptr<Subscription> sub;
  {
    absl::MutexLock l(&mu_);
    auto it = subs_.find(id);
    if (it == subs_.end() || it->second->state != State::kPending) return;
    sub = it->second;
    sub->state = State::kReplaying;
  }
  worker_.Post([this, sub] { ReplayPage(sub); });
}

void Hub::ReplayPage(const std::shared_ptr<Subscription>& sub) {
  {
    absl::MutexLock l(&mu_);
    if (sub->state != State::kReplaying) return;  // ended meanwhile
  }
  if (!sub->sink->HasRoom()) {
    std::weak_ptr<Subscription> weak = sub;
    sub->sink->OnRoom([this, weak] {
      if (auto s = weak.lock()) worker_.Post([this, s] { ReplayPage(s); });
    });
    return;
  }
  absl::StatusOr<storage::ChangesResult> page = store_->ChangesSince(
      sub->last_delivered, sub->filter, options_.replay_page_rows,
      options_.replay_page_bytes);
  if (!page.ok()) return End(sub, page.status());
  failpoint::Hit("watch-replay-after-read");
  for (v1::ChangeEvent& c : page->changes) {
    int64_t seq = c.seq();
    sub->sink->OnChange(sub->id,
                        std::make_shared<const v1::ChangeEvent>(std::move(c)));
    sub->last_delivered = seq;
  }
  delivered_->Inc(page->changes.size());
  if (page->more) {
    // The next page after other work queued on this thread (live batches,
    // other replays), so one replay cannot hold up everyone else.
    worker_.Post([this, sub] { ReplayPage(sub); });
    return;
  }
  // Every matching change up to the changelog's last seq at the time of
  // this read has been delivered: later ones come live.
  absl::MutexLock l(&mu_);
  if (sub->state != State::kReplaying) return;
  sub->last_delivered = std::max(sub->last_delivered, page->last_seq);
  sub->state = State::kLive;
}

void Hub::End(const std::shared_ptr<Subscription>& sub, absl::Status why) {
  {
    absl::MutexLock l(&mu_);
    if (sub->state == State::kEnded) return;
    RemoveLocked(sub->id);
  }
  sub->sink->OnEnded(sub->id, why);
}

void Hub::RemoveLocked(const std::string& id) {
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  it->second->state = State::kEnded;
  auto t = topics_.find(it->second->topic);
  if (t != topics_.end()) {
    t->second.erase(id);
    if (t->second.empty()) topics_.erase(t);
  }
  subs_.erase(it);
  subscriptions_gauge_->Set(subs_.size());
}

void Hub::Unsubscribe(const std::string& id) {
  absl::MutexLock l(&mu_);
  RemoveLocked(id);
}

void Hub::CatchUp() {
  worker_.Post([this] { CatchUpOnWatchThread(); });
}

void Hub::CatchUpOnWatchThread() {
  // Runs after every batch published before the restore and before any
  // published after it, so the replays read exactly the new changelog.
  std::vector<std::shared_ptr<Subscription>> replay;
  std::vector<std::function<void()>> woken;
  absl::StatusOr<int64_t> last = store_->LastSeq();
  {
    absl::MutexLock l(&mu_);
    for (auto& [id, sub] : subs_) {
      if (sub->state != State::kLive) continue;
      sub->state = State::kReplaying;
      replay.push_back(sub);
    }
    if (last.ok()) published_seq_ = std::max(published_seq_, *last);
    for (auto& [h, w] : waiters_) woken.push_back(std::move(w.fn));
    waiters_.clear();
    waiter_topics_.clear();
  }
  for (const auto& sub : replay) ReplayPage(sub);
  for (auto& fn : woken) fn();
}

std::optional<uint64_t> Hub::WaitForChange(const std::string& tenant,
                                           const std::string& ns,
                                           int64_t after_seq,
                                           std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  if (published_seq_ > after_seq) return std::nullopt;
  uint64_t handle = ++next_id_;
  std::string topic = TopicOf(tenant, ns);
  waiter_topics_[topic].insert(handle);
  waiters_[handle] = Waiter{std::move(topic), after_seq, std::move(fn)};
  return handle;
}

bool Hub::CancelWait(uint64_t handle) {
  absl::MutexLock l(&mu_);
  auto it = waiters_.find(handle);
  if (it == waiters_.end()) return false;
  auto t = waiter_topics_.find(it->second.topic);
  if (t != waiter_topics_.end()) {
    t->second.erase(handle);
    if (t->second.empty()) waiter_topics_.erase(t);
  }
  waiters_.erase(it);
  return true;
}

}  // namespace concordance
