// etcd's JSON gateway (grpc-gateway over its v3 API): keys and values are
// base64 in the body, numbers arrive as strings.
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "tools/benchmark/http_connection.h"
#include "tools/benchmark/json_fields.h"
#include "tools/benchmark/target.h"

namespace concordance::benchmark {
namespace {

namespace http = boost::beast::http;

class Etcd final : public Target {
 public:
  explicit Etcd(const TargetOptions& o) : ns_(o.ns), connection_(o.endpoint, "", o.timeout) {}
  absl::Status Connect() { return connection_.Connect(); }

  absl::StatusOr<Written> Put(const std::string& ns, const std::string& key,
                              const std::string& value_json,
                              std::optional<int64_t> expected_version) override {
    if (expected_version) return absl::UnimplementedError("no CAS through etcd's put");
    std::string body = absl::StrCat("{\"key\":\"", absl::Base64Escape(Key(ns, key)),
                                    "\",\"value\":\"", absl::Base64Escape(value_json), "\"}");
    auto r = connection_.Send(http::verb::post, "/v3/kv/put", body);
    if (!r.ok()) return r.status();
    if (r->status != 200) return absl::UnknownError(absl::StrCat("HTTP ", r->status, ": ", r->body));
    rapidjson::Document d;
    d.Parse(r->body.data(), r->body.size());
    if (!d.IsObject() || !d.HasMember("header")) return absl::UnknownError("etcd: " + r->body);
    return Written{0, IntField(d["header"], "revision")};
  }

  absl::StatusOr<int64_t> Get(const std::string& key) override {
    std::string body = absl::StrCat("{\"key\":\"", absl::Base64Escape(Key("", key)), "\"}");
    auto r = connection_.Send(http::verb::post, "/v3/kv/range", body);
    if (!r.ok()) return r.status();
    if (r->status != 200) return absl::UnknownError(absl::StrCat("HTTP ", r->status, ": ", r->body));
    rapidjson::Document d;
    d.Parse(r->body.data(), r->body.size());
    if (!d.IsObject()) return absl::UnknownError("etcd: " + r->body);
    auto kvs = d.FindMember("kvs");
    if (kvs == d.MemberEnd() || !kvs->value.IsArray() || kvs->value.Empty()) {
      return absl::NotFoundError(key);
    }
    return IntField(kvs->value[0], "version");
  }

 private:
  std::string Key(const std::string& ns, const std::string& key) const {
    return absl::StrCat(ns.empty() ? ns_ : ns, "/", key);
  }

  const std::string ns_;
  HttpConnection connection_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> EtcdTarget(const TargetOptions& o) {
  auto t = std::make_unique<Etcd>(o);
  absl::Status s = t->Connect();
  if (!s.ok()) return s;
  return std::unique_ptr<Target>(std::move(t));
}

}  // namespace concordance::benchmark
