#include "tests/jepsen/history_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace concordance::jepsen {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Longer than the server's proposal timeout (5 s): the server, not the client,
// says what became of a slow write, so fewer writes end indeterminate.
constexpr auto kTimeout = std::chrono::milliseconds(7000);

// A write that failed definitely: the server said it was not applied (an
// error that is not marked indeterminate). It is left out of the history,
// as Jepsen leaves out :fail operations; if it did apply after all, a later
// read shows what the checker cannot explain.
bool DefinitelyNotApplied(const testing::HttpResult& r) {
  if (r.status == 0) return !r.sent;  // no answer: unknown, unless nothing was sent
  if (r.status >= 400 && r.status < 500) return r.status != 408;
  return r.body.find("\"indeterminate\":true") == std::string::npos;
}

}  // namespace

HistoryClient::HistoryClient(int id, std::vector<int> ports, std::string ns, std::map<std::string, std::string> auth)
    : id_(id), ports_(std::move(ports)), ns_(std::move(ns)), auth_(std::move(auth)) {}

testing::HttpResult HistoryClient::Send(int port, const std::string& method, const std::string& target,
                                        const std::string& body) {
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

Operation HistoryClient::Get(const std::string& key) {
  Operation op;
  op.key = key;
  op.kind = OpKind::kGet;
  op.client = id_;
  op.call_ns = NowNs();
  int port = ports_[next_port_++ % ports_.size()];
  testing::HttpResult r =
      Send(port, "GET", absl::StrCat("/api/v1/kv/", ns_, "/", key, "?consistency=linearizable"), "");
  op.return_ns = NowNs();
  if (r.status == 200) {
    rapidjson::Document d = testing::ParseJson(r.body);
    op.outcome = Outcome::kOk;
    op.read_value = testing::JsonString(d, "value");
    op.version = testing::JsonInt(d, "version");
    seen_version_[key] = op.version;
  } else if (r.status == 404) {
    op.outcome = Outcome::kNotFound;
    seen_version_[key] = 0;
  }
  history_.push_back(op);
  return op;
}

Operation HistoryClient::Put(const std::string& key, const std::string& value, std::optional<int64_t> expected) {
  Operation op;
  op.key = key;
  op.kind = OpKind::kPut;
  op.value = value;
  op.expected_version = expected;
  op.client = id_;
  std::string body = absl::StrCat("{\"value\":\"", value, "\"");
  if (expected) absl::StrAppend(&body, ",\"expectedVersion\":", *expected);
  body += "}";
  op.call_ns = NowNs();
  testing::HttpResult r = Send(ports_[next_port_++ % ports_.size()], "PUT",
                               absl::StrCat("/api/v1/kv/", ns_, "/", key), body);
  op.return_ns = NowNs();
  if (r.status == 200) {
    op.outcome = Outcome::kOk;
    op.version = testing::JsonInt(testing::ParseJson(r.body), "version");
    seen_version_[key] = op.version;
  } else if (r.status == 409) {
    op.outcome = Outcome::kConflict;
  } else if (DefinitelyNotApplied(r)) {
    return op;
  }
  history_.push_back(op);
  return op;
}

Operation HistoryClient::Delete(const std::string& key) {
  Operation op;
  op.key = key;
  op.kind = OpKind::kDelete;
  op.client = id_;
  op.call_ns = NowNs();
  testing::HttpResult r = Send(ports_[next_port_++ % ports_.size()], "DELETE",
                               absl::StrCat("/api/v1/kv/", ns_, "/", key), "");
  op.return_ns = NowNs();
  if (r.status == 200) {
    op.outcome = Outcome::kOk;
    seen_version_[key] = 0;
  } else if (r.status == 404) {
    op.outcome = Outcome::kNotFound;
  } else if (DefinitelyNotApplied(r)) {
    return op;
  }
  history_.push_back(op);
  return op;
}

void HistoryClient::RandomOperation(std::minstd_rand* rng, int keys) {
  std::string key = absl::StrCat("k", (*rng)() % keys);
  int dice = static_cast<int>((*rng)() % 10);
  if (dice < 4) {
    Get(key);
  } else if (dice < 7) {
    Put(key, absl::StrCat("c", id_, "-", next_value_++), std::nullopt);
  } else if (dice < 9) {
    auto it = seen_version_.find(key);
    Put(key, absl::StrCat("c", id_, "-", next_value_++), it == seen_version_.end() ? 0 : it->second);
  } else {
    Delete(key);
  }
}

}  // namespace concordance::jepsen
