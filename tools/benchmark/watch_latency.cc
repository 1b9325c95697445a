#include "tools/benchmark/watch_latency.h"

#include <grpcpp/grpcpp.h>

#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/concordance/v1/watch.grpc.pb.h"
#include "tools/benchmark/pacer.h"
#include "tools/client/client.h"

namespace concordance::benchmark {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kStreamsPerChannel = 200;  // the server allows 256 per connection

struct Receipt {
  int64_t seq;
  Clock::time_point at;
};

// One Watch stream on the callback API: no thread of its own.
class Subscriber final : public grpc::ClientReadReactor<v1::WatchResponse> {
 public:
  Subscriber(v1::Watch::Stub* stub, const std::string& key, v1::WatchRequest req,
             WatchProgress* progress)
      : req_(std::move(req)), progress_(progress) {
    if (!key.empty()) ctx_.AddMetadata("authorization", "Bearer " + key);
    stub->async()->Watch(&ctx_, &req_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    auto now = Clock::now();
    if (!started_.load()) {
      started_.store(true);  // the first response: subscribed
    } else {
      for (const v1::ChangeEvent& e : response_.events()) receipts_.push_back({e.seq(), now});
      progress_->received.fetch_add(response_.events_size());
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& s) override {
    absl::MutexLock l(&mu_);
    status_ = s;
    done_ = true;
  }

  ~Subscriber() override {
    absl::MutexLock l(&mu_);  // OnDone may still be unlocking mu_
  }

  bool started() const { return started_.load(); }
  bool done() const {
    absl::MutexLock l(&mu_);
    return done_;
  }
  // Ends the stream; returns once gRPC is done with it.
  grpc::Status Stop() {
    ctx_.TryCancel();
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(&done_));
    return status_;
  }
  // Read after Stop().
  const std::vector<Receipt>& receipts() const { return receipts_; }

 private:
  grpc::ClientContext ctx_;
  const v1::WatchRequest req_;
  WatchProgress* const progress_;
  v1::WatchResponse response_;
  std::atomic<bool> started_{false};
  std::vector<Receipt> receipts_;  // written on gRPC's threads, one at a time
  mutable absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

struct Ack {
  Clock::time_point sent;
  Clock::time_point acknowledged;
};

struct WriterLog {
  std::vector<std::pair<int64_t, Ack>> acks;  // by seq
  uint64_t errors = 0;
  std::string first_error;
};

std::string NamespaceOf(const std::string& tenant, int i) { return absl::StrCat("tenant:", tenant, "/s", i); }

void RunWriter(const WatchLatencyOptions& o, const std::string& tenant, int id, Clock::time_point start,
               Clock::time_point end, WatchProgress* progress, WriterLog* log) {
  client::Options co;
  co.endpoints = o.endpoints;
  co.key = o.api_key;
  co.attempt_timeout = o.timeout;
  co.retry_for = std::chrono::milliseconds(0);
  co.private_connections = true;
  client::Client cl(co);
  Pacer pacer(o.writes_per_second / o.writers, start, static_cast<double>(id) / o.writers);
  const std::string value = "\"" + std::string(std::max(o.value_size - 2, 0), 'w') + "\"";
  for (int64_t j = id;; j += o.writers) {
    if (pacer.Wait() >= end) return;
    v1::PutRequest req;
    int target = static_cast<int>(j % (o.shape == "spread" ? std::max(o.subscribers, 1) : 16));
    req.set_namespace_(NamespaceOf(tenant, target));
    req.set_key(absl::StrCat("k", j % 100));
    req.set_value(value);
    auto sent = Clock::now();
    auto r = cl.Put(req);
    if (r.ok()) {
      log->acks.emplace_back(r->seq(), Ack{sent, Clock::now()});
      progress->writes.fetch_add(1);
    } else {
      if (log->errors++ == 0) log->first_error = r.status().ToString();
      progress->errors.fetch_add(1);
    }
  }
}

// Opens the subscribers over fresh channels, kStreamsPerChannel each.
std::vector<std::unique_ptr<Subscriber>> Subscribe(const WatchLatencyOptions& o, const std::string& tenant,
                                                   WatchProgress* progress,
                                                   std::vector<std::unique_ptr<v1::Watch::Stub>>* stubs) {
  std::vector<std::unique_ptr<Subscriber>> subs;
  std::vector<int> on_endpoint(o.endpoints.size(), 0);
  std::vector<v1::Watch::Stub*> current(o.endpoints.size(), nullptr);
  for (int i = 0; i < o.subscribers; ++i) {
    size_t e = i % o.endpoints.size();
    if (on_endpoint[e]++ % kStreamsPerChannel == 0) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      stubs->push_back(v1::Watch::NewStub(
          grpc::CreateCustomChannel(o.endpoints[e], grpc::InsecureChannelCredentials(), args)));
      current[e] = stubs->back().get();
    }
    v1::WatchRequest req;
    if (o.shape == "spread") {
      req.set_namespace_(NamespaceOf(tenant, i));
    } else {
      req.set_tenant(tenant);
    }
    subs.push_back(std::make_unique<Subscriber>(current[e], o.api_key, req, progress));
  }
  return subs;
}

template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace

absl::StatusOr<WatchLatencyResult> RunWatchLatency(const WatchLatencyOptions& o, WatchProgress* progress) {
  if (o.shape != "spread" && o.shape != "fanout") {
    return absl::InvalidArgumentError("--watch-shape must be spread or fanout");
  }
  if (o.subscribers < 0 || o.writers < 1 || o.writes_per_second < 0) {
    return absl::InvalidArgumentError("watch-latency needs --subscribers >= 0, --writers >= 1 and --rate >= 0");
  }
  std::string tenant = o.tenant.empty() ? absl::StrCat("wl", getpid(), "x", Clock::now().time_since_epoch().count() % 1000000) : o.tenant;
  std::vector<std::unique_ptr<v1::Watch::Stub>> stubs;
  std::vector<std::unique_ptr<Subscriber>> subs = Subscribe(o, tenant, progress, &stubs);
  auto all_started = [&] {
    for (auto& s : subs) {
      if (!s->started() && !s->done()) return false;
    }
    return true;
  };
  WaitUntil(all_started, std::chrono::seconds(60));
  for (auto& s : subs) {
    if (!s->started()) {
      grpc::Status st = s->Stop();
      for (auto& other : subs) other->Stop();
      return absl::UnavailableError(absl::StrCat("a subscriber could not start: ", st.error_message()));
    }
  }

  std::vector<WriterLog> logs(o.writers);
  auto start = Clock::now();
  auto end = start + o.duration;
  std::vector<std::thread> writers;
  for (int i = 0; i < o.writers; ++i) {
    writers.emplace_back(RunWriter, std::cref(o), std::cref(tenant), i, start, end, progress, &logs[i]);
  }
  for (std::thread& t : writers) t.join();
  WatchLatencyResult r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::unordered_map<int64_t, Ack> acked;
  for (const WriterLog& log : logs) {
    for (const auto& [seq, at] : log.acks) acked.emplace(seq, at);
    r.write_errors += log.errors;
    if (r.first_error.empty()) r.first_error = log.first_error;
  }
  r.writes = acked.size();
  r.expected = o.subscribers == 0 ? 0 : r.writes * (o.shape == "spread" ? 1 : static_cast<uint64_t>(o.subscribers));
  // Let the last notifications arrive: until all that can be expected are
  // in (events of writes that failed but applied count too, so with write
  // errors wait for quiet instead), or nothing came for a second (bounded).
  uint64_t last = progress->received.load();
  auto last_change = Clock::now();
  WaitUntil(
      [&] {
        uint64_t now = progress->received.load();
        if (now != last) {
          last = now;
          last_change = Clock::now();
        }
        return (now >= r.expected && r.write_errors == 0) || Clock::now() - last_change > std::chrono::seconds(1);
      },
      std::chrono::seconds(15));
  for (auto& s : subs) {
    grpc::Status st = s->Stop();
    if (st.error_code() != grpc::StatusCode::CANCELLED && r.subscriber_error.empty()) {
      r.subscriber_error = absl::StrCat("a watch ended early: ", st.error_message());
    }
  }
  for (auto& s : subs) {
    for (const Receipt& rc : s->receipts()) {
      auto it = acked.find(rc.seq);
      if (it == acked.end()) continue;  // a write that failed (or not ours)
      ++r.received;
      const Ack& ack = it->second;
      r.from_send_ns.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(rc.at - ack.sent).count());
      if (rc.at < ack.acknowledged) {
        ++r.before_ack;
        r.latency_ns.Record(0);
      } else {
        r.latency_ns.Record(
            std::chrono::duration_cast<std::chrono::nanoseconds>(rc.at - ack.acknowledged).count());
      }
    }
  }
  return r;
}

}  // namespace concordance::benchmark
