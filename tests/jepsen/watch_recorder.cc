#include "tests/jepsen/watch_recorder.h"

#include "gtest/gtest.h"
#include "tools/client/client.h"

namespace concordance::jepsen {

using testing::TestCluster;
using testing::WaitFor;

int64_t WatchRecorder::last() {
  absl::MutexLock l(&mu_);
  return seqs_.empty() ? 0 : seqs_.back();
}

std::vector<int64_t> WatchRecorder::seqs() {
  absl::MutexLock l(&mu_);
  return seqs_;
}

absl::Status WatchRecorder::error() {
  absl::MutexLock l(&mu_);
  return error_;
}

int WatchRecorder::resumes() {
  absl::MutexLock l(&mu_);
  return resumes_;
}

void WatchRecorder::Record(int64_t seq) {
  absl::MutexLock l(&mu_);
  seqs_.push_back(seq);
}

void WatchRecorder::Fail(absl::Status s) {
  absl::MutexLock l(&mu_);
  if (error_.ok()) error_ = std::move(s);
}

void WatchRecorder::Resumed() {
  absl::MutexLock l(&mu_);
  ++resumes_;
}

namespace {

// //tools/client's Watcher resumes from the last seq it delivered on the
// next endpoint by itself.
class GrpcWatchRecorder : public WatchRecorder {
 public:
  GrpcWatchRecorder(TestCluster& c, int start, const std::string& tenant)
      : WatchRecorder("grpc@" + c.id(start)) {
    client::Options o;
    for (int i = 0; i < c.size(); ++i)
      o.endpoints.push_back(c.node((start + i) % c.size()).address());
    o.key = TestCluster::kApiKey;
    o.attempt_timeout = std::chrono::seconds(3);
    o.retry_for = std::chrono::seconds(30);
    client_ = std::make_unique<client::Client>(o);
    v1::WatchRequest req;
    req.set_tenant(tenant);
    req.set_from_seq(0);
    watcher_ = client_->Watch(req);
    thread_ = std::thread([this] {
      v1::WatchResponse r;
      for (;;) {
        absl::Status s = watcher_->Next(&r);
        if (!s.ok()) {
          if (!absl::IsCancelled(s)) Fail(s);
          return;
        }
        for (const v1::ChangeEvent& e : r.events()) Record(e.seq());
      }
    });
  }
  ~GrpcWatchRecorder() override { Stop(); }
  void Stop() override {
    if (!thread_.joinable()) return;
    watcher_->Cancel();
    thread_.join();
  }

 private:
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::Watcher> watcher_;
  std::thread thread_;
};

// JSON-RPC watch/subscribe over /stream; when the socket closes or the
// subscription ends, it subscribes again on the next node with fromSeq set
// to the last seq it recorded. Gives up (an error) after 30 s without a
// working subscription.
class StreamWatchRecorder : public WatchRecorder {
 public:
  StreamWatchRecorder(TestCluster& c, int start, const std::string& tenant)
      : WatchRecorder("stream@" + c.id(start)),
        tenant_(tenant),
        auth_(c.Auth()) {
    for (int i = 0; i < c.size(); ++i)
      ports_.push_back(c.node((start + i) % c.size()).port());
    thread_ = std::thread([this] { Run(); });
  }
  ~StreamWatchRecorder() override { Stop(); }
  void Stop() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    auto given_up_at =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (size_t n = 0; !stop_; n = (n + 1) % ports_.size()) {
      if (std::chrono::steady_clock::now() > given_up_at) {
        return Fail(
            absl::UnavailableError("no node served the watch for 30 s"));
      }
      testing::WsClient ws;
      if (!ws.Connect("127.0.0.1", ports_[n], "/stream", auth_)) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(100));  // retry pacing
        continue;
      }
      if (!ws.SendText(
              R"({"jsonrpc":"2.0","id":1,"method":"watch/subscribe","params":{"tenant":")" +
              tenant_ + R"(","fromSeq":)" + std::to_string(last()) + "}}")) {
        continue;
      }
      if (Serve(ws))
        given_up_at =
            std::chrono::steady_clock::now() + std::chrono::seconds(30);
      if (!stop_) Resumed();
    }
  }

  // Reads until the subscription or the socket ends; true if it was live.
  bool Serve(testing::WsClient& ws) {
    bool subscribed = false;
    while (!stop_) {
      std::optional<std::string> text =
          ws.Receive(std::chrono::milliseconds(200));
      if (!text) {
        if (ws.closed()) return subscribed;
        continue;
      }
      rapidjson::Document doc = testing::ParseJson(*text);
      if (!doc.IsObject()) continue;
      if (doc.HasMember("id")) {
        if (doc.HasMember("error")) {
          // A compacted fromSeq cannot be resumed: that is a failure.
          if (testing::JsonInt(doc["error"], "code") == -32006)
            Fail(absl::OutOfRangeError(*text));
          return subscribed;
        }
        subscribed = true;
        continue;
      }
      std::string method = testing::JsonString(doc, "method");
      if (method == "watch/ended") return subscribed;
      if (method != "watch/change" || !doc.HasMember("params")) continue;
      int64_t seq = testing::JsonInt(doc["params"], "seq");
      if (seq > 0) Record(seq);
    }
    return subscribed;
  }

  const std::string tenant_;
  const std::map<std::string, std::string> auth_;
  std::vector<int> ports_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::vector<int64_t> Changelog(TestCluster& c, const std::string& tenant) {
  client::Options o;
  for (int i = 0; i < c.size(); ++i) o.endpoints.push_back(c.node(i).address());
  o.key = TestCluster::kApiKey;
  client::Client cl(o);
  std::vector<int64_t> changelog;
  v1::ChangesRequest req;
  req.set_tenant(tenant);
  req.set_limit(1000);
  for (int64_t since = 0;;) {
    req.set_since(since);
    auto page = cl.Changes(req);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return {};
    for (const v1::ChangeEvent& e : page->changes())
      changelog.push_back(e.seq());
    if (page->changes_size() < 1000) return changelog;
    since = page->next_seq();
  }
}

}  // namespace

std::unique_ptr<WatchRecorder> GrpcWatch(TestCluster& c, int start,
                                         const std::string& tenant) {
  return std::make_unique<GrpcWatchRecorder>(c, start, tenant);
}

std::unique_ptr<WatchRecorder> StreamWatch(TestCluster& c, int start,
                                           const std::string& tenant) {
  return std::make_unique<StreamWatchRecorder>(c, start, tenant);
}

void ExpectEveryWatcherSawTheChangelog(
    TestCluster& c, const std::string& tenant,
    std::vector<std::unique_ptr<WatchRecorder>>& watchers) {
  std::vector<int64_t> changelog = Changelog(c, tenant);
  ASSERT_FALSE(changelog.empty());
  int resumes = 0;
  for (auto& w : watchers) {
    EXPECT_TRUE(WaitFor(
        [&] { return w->last() >= changelog.back() || !w->error().ok(); },
        std::chrono::seconds(20)))
        << w->name() << " is at seq " << w->last() << " of "
        << changelog.back();
    w->Stop();
    EXPECT_TRUE(w->error().ok()) << w->name() << ": " << w->error();
    std::vector<int64_t> seen = w->seqs();
    EXPECT_EQ(seen.size(), changelog.size()) << w->name();
    size_t differ = 0;
    while (differ < seen.size() && differ < changelog.size() &&
           seen[differ] == changelog[differ])
      ++differ;
    EXPECT_TRUE(seen == changelog)
        << w->name() << " differs from the changelog at position " << differ
        << (differ < seen.size()
                ? " (saw seq " + std::to_string(seen[differ]) + ")"
                : "")
        << (differ < changelog.size()
                ? " (changelog " + std::to_string(changelog[differ]) + ")"
                : "");
    resumes += w->resumes();
  }
  ::testing::Test::RecordProperty("changelog_entries",
                                  static_cast<int>(changelog.size()));
  ::testing::Test::RecordProperty("watch_resumes_over_stream", resumes);
}

}  // namespace concordance::jepsen
