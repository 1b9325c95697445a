// The REST transport of HistoryClient.
#include "absl/strings/str_cat.h"
#include "tests/jepsen/history_client.h"
#include "tests/lib/node.h"

namespace concordance::jepsen {
namespace {

// Longer than the server's proposal timeout (5 s): the server, not the
// client, says what became of a slow write, so fewer writes end indeterminate.
constexpr auto kTimeout = std::chrono::milliseconds(7000);

// A write that failed definitely: the server said it was not applied (an
// error that is not marked indeterminate), or it was never sent. If it did
// apply after all, a later read shows what the checker cannot explain.
bool DefinitelyNotApplied(const testing::HttpResult& r) {
  if (r.status == 0) return !r.sent;
  if (r.status >= 400 && r.status < 500) return r.status != 408;
  return r.body.find("\"indeterminate\":true") == std::string::npos;
}

class Rest final : public Transport {
 public:
  Rest(std::vector<int> ports, std::string ns, std::map<std::string, std::string> auth)
      : ports_(std::move(ports)), ns_(std::move(ns)), auth_(std::move(auth)) {}

  Answer Get(const std::string& key) override {
    testing::HttpResult r = Send("GET", absl::StrCat(Path(key), "?consistency=linearizable"), "");
    Answer a;
    if (r.status == 200) {
      rapidjson::Document d = testing::ParseJson(r.body);
      a.outcome = Outcome::kOk;
      a.value = testing::JsonString(d, "value");
      a.version = testing::JsonInt(d, "version");
    } else if (r.status == 404) {
      a.outcome = Outcome::kNotFound;
    }
    return a;
  }

  Answer Put(const std::string& key, const std::string& value, std::optional<int64_t> expected) override {
    std::string body = absl::StrCat("{\"value\":\"", value, "\"");
    if (expected) absl::StrAppend(&body, ",\"expectedVersion\":", *expected);
    body += "}";
    testing::HttpResult r = Send("PUT", Path(key), body);
    Answer a;
    if (r.status == 200) {
      a.outcome = Outcome::kOk;
      a.version = testing::JsonInt(testing::ParseJson(r.body), "version");
    } else if (r.status == 409) {
      a.outcome = Outcome::kConflict;
    } else {
      a.keep = !DefinitelyNotApplied(r);
    }
    return a;
  }

  Answer Delete(const std::string& key) override {
    testing::HttpResult r = Send("DELETE", Path(key), "");
    Answer a;
    if (r.status == 200) {
      a.outcome = Outcome::kOk;
    } else if (r.status == 404) {
      a.outcome = Outcome::kNotFound;
    } else {
      a.keep = !DefinitelyNotApplied(r);
    }
    return a;
  }

 private:
  std::string Path(const std::string& key) const { return absl::StrCat("/api/v1/kv/", ns_, "/", key); }

  testing::HttpResult Send(const std::string& method, const std::string& target, const std::string& body) {
    int port = ports_[next_port_++ % ports_.size()];
    for (int hop = 0;; ++hop) {
      auto& c = connections_[port];
      if (!c) {
        c = std::make_unique<testing::HttpClient>("127.0.0.1", port);
        c->set_resend_on_closed(false);  // never send a write twice
      }
      testing::HttpResult r = c->Request(method, target, body, auth_, kTimeout);
      if (r.status == 0) connections_.erase(port);  // reconnect next time
      if (r.status != 307 || hop == 3) return r;
      const std::string& loc = r.headers["location"];
      size_t colon = loc.rfind(':', loc.find('/', loc.find("//") + 2));
      port = std::stoi(loc.substr(colon + 1));
    }
  }

  const std::vector<int> ports_;
  const std::string ns_;
  const std::map<std::string, std::string> auth_;
  std::map<int, std::unique_ptr<testing::HttpClient>> connections_;
  size_t next_port_ = 0;
};

}  // namespace

std::unique_ptr<Transport> RestTransport(std::vector<int> ports, std::string ns,
                                         std::map<std::string, std::string> auth) {
  return std::make_unique<Rest>(std::move(ports), std::move(ns), std::move(auth));
}

}  // namespace concordance::jepsen
