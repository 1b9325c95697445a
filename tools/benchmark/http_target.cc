// Concordance's REST API over one keep-alive connection.
#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "tools/benchmark/http_connection.h"
#include "tools/benchmark/json_fields.h"
#include "tools/benchmark/target.h"

namespace concordance::benchmark {
namespace {

namespace http = boost::beast::http;

absl::Status FromHttp(const HttpResponse& r) {
  std::string what = absl::StrCat("HTTP ", r.status, ": ", r.body);
  if (r.status == 409) return absl::AbortedError(what);
  if (r.status == 404) return absl::NotFoundError(what);
  return absl::UnknownError(what);
}

class Http final : public Target {
 public:
  explicit Http(const TargetOptions& o) : ns_(o.ns), connection_(o.endpoint, o.api_key, o.timeout) {}
  absl::Status Connect() { return connection_.Connect(); }

  absl::StatusOr<Written> Put(const std::string& ns, const std::string& key,
                              const std::string& value_json,
                              std::optional<int64_t> expected_version) override {
    std::string body = absl::StrCat("{\"value\":", value_json);
    if (expected_version) absl::StrAppend(&body, ",\"expectedVersion\":", *expected_version);
    body += "}";
    auto r = connection_.Send(http::verb::put, Path(ns, key), body);
    if (!r.ok()) return r.status();
    if (r->status != 200) return FromHttp(*r);
    rapidjson::Document d;
    d.Parse(r->body.data(), r->body.size());
    return Written{IntField(d, "version"), IntField(d, "seq")};
  }

  absl::StatusOr<int64_t> Get(const std::string& key) override {
    auto r = connection_.Send(http::verb::get, Path("", key), "");
    if (!r.ok()) return r.status();
    if (r->status != 200) return FromHttp(*r);
    rapidjson::Document d;
    d.Parse(r->body.data(), r->body.size());
    return IntField(d, "version");
  }

 private:
  std::string Path(const std::string& ns, const std::string& key) const {
    return absl::StrCat("/api/v1/kv/", ns.empty() ? ns_ : ns, "/", key);
  }

  const std::string ns_;
  HttpConnection connection_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> HttpTarget(const TargetOptions& o) {
  auto t = std::make_unique<Http>(o);
  absl::Status s = t->Connect();
  if (!s.ok()) return s;
  return std::unique_ptr<Target>(std::move(t));
}

}  // namespace concordance::benchmark
