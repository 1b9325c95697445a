#include "gateway/rest_handler.h"

#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/status_map.h"
#include "gateway/url.h"

namespace concordance::gateway {
namespace {

constexpr absl::string_view kKvPrefix = "/api/v1/kv/";
constexpr absl::string_view kClusterPrefix = "/api/v1/cluster/";

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Strict decimal integer from a query parameter; nullopt when absent.
absl::StatusOr<std::optional<int64_t>> QueryInt(const std::map<std::string, std::string>& q,
                                                const char* name) {
  auto it = q.find(name);
  if (it == q.end()) return std::optional<int64_t>();
  int64_t v;
  if (it->second.empty() || !absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("query parameter ", name,
                                                   " must be an integer"));
  }
  return std::optional<int64_t>(v);
}

std::string QueryString(const std::map<std::string, std::string>& q, const char* name) {
  auto it = q.find(name);
  return it == q.end() ? "" : it->second;
}

// Parses the body as one JSON object.
absl::StatusOr<rapidjson::Document> BodyObject(const std::string& body) {
  if (body.empty()) return absl::InvalidArgumentError("request body is empty; expected JSON");
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok()) return doc.status();
  if (!doc->IsObject()) return absl::InvalidArgumentError("request body must be a JSON object");
  return doc;
}

template <typename T>
Callback<T> Reply(std::function<void(HttpResponse)> done,
                  std::function<std::string(const T&)> encode, std::string target = "") {
  return [done = std::move(done), encode = std::move(encode),
          target = std::move(target)](absl::StatusOr<T> r) {
    if (!r.ok()) {
      done(RestHandler::Error(r.status(), target));
    } else {
      done(Json(200, encode(*r)));
    }
  };
}

}  // namespace

RestHandler::RestHandler(Backend* backend, const Authenticator* auth, Options options,
                         metrics::Registry* metrics)
    : backend_(backend), auth_(auth), options_(options), metrics_(metrics) {}

HttpResponse RestHandler::Error(const absl::Status& s, absl::string_view target) {
  WireError wire = ToWire(s);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "error");
  w.StartObject();
  Key(w, "code");
  String(w, wire.code);
  Key(w, "message");
  String(w, SafeText(s.message()));
  WriteErrorDetails(w, s);
  w.EndObject();
  w.EndObject();
  HttpResponse r = Json(wire.http_status, std::string(buf.GetString(), buf.GetSize()));
  if (wire.http_status == 307) {
    auto address = TextPayload(s, kLeaderAddressPayload);
    if (address && !address->empty()) {
      r.headers.emplace_back("Location", absl::StrCat("http://", *address, target));
    }
  }
  if (wire.http_status == 503) r.headers.emplace_back("Retry-After", "1");
  if (wire.http_status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

void RestHandler::Handle(HttpRequest req, std::function<void(HttpResponse)> done) {
  auto start = std::chrono::steady_clock::now();
  auto route = std::make_shared<std::string>("unknown");
  // Beast accepts any token as a method: only standard ones become metric
  // labels, so clients cannot grow the registry without bound.
  static const auto* const kKnownMethods = new absl::flat_hash_set<std::string>{
      "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"};
  std::string method = kKnownMethods->contains(req.method) ? req.method : "other";
  Done finish = [this, done = std::move(done), start, route, method](HttpResponse r) {
    if (metrics_ != nullptr) {
      metrics_
          ->GetCounter("concordance_http_requests_total", "HTTP requests by route and status.",
                       {{"route", *route}, {"method", method}, {"code", absl::StrCat(r.status)}})
          ->Inc();
      double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_
          ->GetHistogram("concordance_http_request_duration_seconds",
                         "HTTP request latency by route.", metrics::LatencyBuckets(),
                         {{"route", *route}})
          ->Observe(secs);
    }
    done(std::move(r));
  };
  size_t qpos = req.target.find('?');
  std::string path = req.target.substr(0, qpos);
  absl::StatusOr<std::map<std::string, std::string>> query =
      ParseQuery(qpos == std::string::npos ? "" : absl::string_view(req.target).substr(qpos + 1));
  if (!query.ok()) {
    finish(Error(query.status()));
    return;
  }
  if (req.body.size() > options_.limits.max_body_bytes) {
    finish(Error(absl::ResourceExhaustedError(
        absl::StrCat("request body is ", req.body.size(), " bytes; the limit is ",
                     options_.limits.max_body_bytes))));
    return;
  }
  Route(req, path, *query, std::move(finish), route.get());
}

void RestHandler::Route(HttpRequest& req, const std::string& path,
                        const std::map<std::string, std::string>& q, Done done,
                        std::string* route) {
  // HEAD is GET without the body (the server drops it, keeping the headers).
  const std::string m = req.method == "HEAD" ? "GET" : req.method;
  auto method_not_allowed = [&](const char* allow) {
    HttpResponse r = Json(405, absl::StrCat(
        "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"use ", allow, "\"}}"));
    r.headers.emplace_back("Allow", allow);
    done(std::move(r));
  };
  // Unauthenticated endpoints.
  if (path == "/api/v1/health") {
    *route = "health";
    if (m != "GET") return method_not_allowed("GET");
    ClusterStatus s = backend_->Status();
    done(Json(200, absl::StrCat("{\"status\":\"ok\",\"nodeId\":\"", s.node_id, "\"}")));
    return;
  }
  if (path == "/api/v1/ready") {
    *route = "ready";
    if (m != "GET") return method_not_allowed("GET");
    std::string why;
    if (backend_->Ready(&why)) {
      done(Json(200, "{\"ready\":true}"));
    } else {
      rapidjson::StringBuffer buf;
      JsonWriter w(buf);
      w.StartObject();
      Key(w, "ready");
      w.Bool(false);
      Key(w, "reason");
      String(w, why);
      w.EndObject();
      HttpResponse r = Json(503, std::string(buf.GetString(), buf.GetSize()));
      r.headers.emplace_back("Retry-After", "1");
      done(std::move(r));
    }
    return;
  }

  // Everything else needs a key: reads the agent key, writes the API key.
  bool write = m != "GET";
  if (path == "/api/v1/snapshot") write = true;  // the whole dataset
  absl::Status access = auth_->Check(req.authorization, write ? Access::kWrite : Access::kRead);
  if (!access.ok()) {
    *route = "auth";
    done(Error(access));
    return;
  }
  absl::StatusOr<std::string> resolved =
      ResolveActor(req.actor, auth_->Authenticate(req.authorization));
  if (!resolved.ok()) return done(Error(resolved.status()));
  const std::string& actor = *resolved;

  if (path == "/metrics") {
    *route = "metrics";
    if (m != "GET") return method_not_allowed("GET");
    HttpResponse r = Json(200, backend_->MetricsText());
    r.content_type = "text/plain; version=0.0.4";
    done(std::move(r));
    return;
  }
  if (absl::StartsWith(path, kKvPrefix)) {
    absl::string_view rest = absl::string_view(path).substr(kKvPrefix.size());
    if (absl::EndsWith(rest, "/")) {
      *route = "kv_list";
      if (m == "PUT" || m == "DELETE") {
        return done(Error(absl::InvalidArgumentError(
            "key is empty (a path ending in / lists the namespace)")));
      }
      if (m != "GET") return method_not_allowed("GET");
      absl::StatusOr<std::string> ns = PercentDecode(rest.substr(0, rest.size() - 1));
      if (!ns.ok()) return done(Error(ns.status()));
      return KvList(*ns, q, std::move(done));
    }
    size_t slash = rest.rfind('/');
    if (slash == absl::string_view::npos) {
      *route = "kv";
      return done(Error(absl::InvalidArgumentError(
          "expected /api/v1/kv/{namespace}/{key} (or a trailing / to list)")));
    }
    absl::StatusOr<std::string> ns = PercentDecode(rest.substr(0, slash));
    if (!ns.ok()) return done(Error(ns.status()));
    absl::StatusOr<std::string> key = PercentDecode(rest.substr(slash + 1));
    if (!key.ok()) return done(Error(key.status()));
    if (m == "GET") {
      *route = "kv_get";
      return KvGet(*ns, *key, q, std::move(done));
    }
    if (m == "PUT") {
      *route = "kv_put";
      return KvPut(*ns, *key, req, actor, std::move(done));
    }
    if (m == "DELETE") {
      *route = "kv_delete";
      return KvDelete(*ns, *key, q, req.target, actor, std::move(done));
    }
    *route = "kv";
    return method_not_allowed("GET, PUT, DELETE");
  }
  if (path == "/api/v1/batch") {
    *route = "batch";
    if (m != "POST") return method_not_allowed("POST");
    return Batch(req, actor, std::move(done));
  }
  if (path == "/api/v1/changes") {
    *route = "changes";
    if (m != "GET") return method_not_allowed("GET");
    return Changes(q, req.cancel, std::move(done));
  }
  if (absl::StartsWith(path, kClusterPrefix)) {
    std::string what = path.substr(kClusterPrefix.size());
    if (what == "status") {
      *route = "cluster_status";
      if (m != "GET") return method_not_allowed("GET");
      return backend_->StatusWithHash(Reply<ClusterStatus>(std::move(done), ClusterStatusJson));
    }
    if (what == "join" || what == "remove" || what == "transfer-leadership") {
      *route = "cluster_" + what;
      if (m != "POST") return method_not_allowed("POST");
      return Cluster(what, req, std::move(done));
    }
  }
  if (path == "/api/v1/snapshot") {
    *route = "snapshot";
    if (m != "GET") return method_not_allowed("GET");
    backend_->Snapshot([done = std::move(done)](absl::StatusOr<std::string> image) {
      if (!image.ok()) return done(Error(image.status()));
      HttpResponse r;
      r.content_type = "application/vnd.sqlite3";
      r.headers.emplace_back("Content-Disposition", "attachment; filename=\"state.db\"");
      r.body = std::move(*image);
      done(std::move(r));
    });
    return;
  }
  *route = "unknown";
  done(Error(absl::NotFoundError(absl::StrCat("no such endpoint: ", req.method, " ", path))));
}

void RestHandler::KvGet(const std::string& ns, const std::string& key,
                        const std::map<std::string, std::string>& q, Done done) {
  absl::StatusOr<std::optional<int64_t>> min_seq = QueryInt(q, "minSeq");
  if (!min_seq.ok()) return done(Error(min_seq.status()));
  absl::StatusOr<ReadOptions> read = ParseReadOptions(QueryString(q, "consistency"), *min_seq);
  if (!read.ok()) return done(Error(read.status()));
  GetRequest req{ns, key, *read};
  backend_->Get(req, Reply<v1::Entry>(std::move(done), EntryJson));
}

void RestHandler::KvList(const std::string& ns, const std::map<std::string, std::string>& q,
                         Done done) {
  absl::StatusOr<std::optional<int64_t>> min_seq = QueryInt(q, "minSeq");
  if (!min_seq.ok()) return done(Error(min_seq.status()));
  absl::StatusOr<ReadOptions> read = ParseReadOptions(QueryString(q, "consistency"), *min_seq);
  if (!read.ok()) return done(Error(read.status()));
  absl::StatusOr<std::optional<int64_t>> limit = QueryInt(q, "limit");
  if (!limit.ok()) return done(Error(limit.status()));
  ListRequest req;
  req.ns = ns;
  req.prefix = QueryString(q, "prefix");
  req.after = QueryString(q, "after");
  absl::StatusOr<int> page = ParsePageLimit(*limit, options_.max_page);
  if (!page.ok()) return done(Error(page.status()));
  req.limit = *page;
  req.read = *read;
  backend_->List(req, Reply<ListResult>(std::move(done), ListJson));
}

void RestHandler::KvPut(const std::string& ns, const std::string& key, const HttpRequest& http,
                        const std::string& actor, Done done) {
  absl::StatusOr<rapidjson::Document> body = BodyObject(http.body);
  if (!body.ok()) return done(Error(body.status()));
  SetRequest req;
  absl::Status s = ParseSetBody(*body, &req);
  if (!s.ok()) return done(Error(s));
  req.ns = ns;
  req.key = key;
  backend_->Set(req, actor, Reply<SetResult>(std::move(done), SetResultJson, http.target));
}

void RestHandler::KvDelete(const std::string& ns, const std::string& key,
                           const std::map<std::string, std::string>& q,
                           const std::string& target, const std::string& actor, Done done) {
  absl::StatusOr<std::optional<int64_t>> ev = QueryInt(q, "expectedVersion");
  if (!ev.ok()) return done(Error(ev.status()));
  DeleteRequest req{ns, key, *ev};
  backend_->Delete(req, actor, Reply<DeleteResult>(std::move(done), DeleteResultJson, target));
}

void RestHandler::Batch(const HttpRequest& http, const std::string& actor, Done done) {
  absl::StatusOr<rapidjson::Document> body = BodyObject(http.body);
  if (!body.ok()) return done(Error(body.status()));
  auto ops = body->FindMember("ops");
  if (ops == body->MemberEnd()) return done(Error(absl::InvalidArgumentError("\"ops\" is required")));
  absl::StatusOr<std::vector<BatchOp>> parsed = ParseBatchOps(ops->value);
  if (!parsed.ok()) return done(Error(parsed.status()));
  backend_->Batch(*parsed, actor,
                  Reply<BatchResult>(std::move(done), BatchResultJson, http.target));
}

void RestHandler::Changes(const std::map<std::string, std::string>& q,
                          std::shared_ptr<Cancellation> cancel, Done done) {
  ChangesRequest req;
  req.cancel = std::move(cancel);
  req.tenant = QueryString(q, "tenant");
  req.ns = QueryString(q, "namespace");
  if (req.tenant.empty() == req.ns.empty()) {
    return done(Error(absl::InvalidArgumentError("give exactly one of tenant= or namespace=")));
  }
  for (auto [name, field] : {std::make_pair("since", &req.since), std::make_pair("wait", &req.wait_ms)}) {
    absl::StatusOr<std::optional<int64_t>> v = QueryInt(q, name);
    if (!v.ok()) return done(Error(v.status()));
    *field = v->value_or(0);
    if (*field < 0) return done(Error(absl::InvalidArgumentError(absl::StrCat(name, " must be >= 0"))));
  }
  req.wait_ms = std::min(req.wait_ms, options_.max_wait_ms);
  absl::StatusOr<std::optional<int64_t>> limit = QueryInt(q, "limit");
  if (!limit.ok()) return done(Error(limit.status()));
  absl::StatusOr<int> page = ParsePageLimit(*limit, options_.max_page);
  if (!page.ok()) return done(Error(page.status()));
  req.limit = *page;
  backend_->Changes(req, Reply<ChangesResult>(std::move(done), ChangesJson));
}

void RestHandler::Cluster(const std::string& what, const HttpRequest& http, Done done) {
  rapidjson::Document empty(rapidjson::kObjectType);
  absl::StatusOr<rapidjson::Document> body =
      http.body.empty() && what == "transfer-leadership" ? std::move(empty) : BodyObject(http.body);
  if (!body.ok()) return done(Error(body.status()));
  auto reply = Reply<ClusterStatus>(std::move(done), ClusterStatusJson, http.target);
  if (what == "transfer-leadership") {
    absl::StatusOr<std::optional<std::string>> id = OptionalString(*body, "nodeId");
    if (!id.ok()) return reply(id.status());
    return backend_->TransferLeadership(id->value_or(""), std::move(reply));
  }
  absl::StatusOr<std::string> id = RequiredString(*body, "nodeId");
  if (!id.ok()) return reply(id.status());
  if (what == "remove") return backend_->Remove(*id, std::move(reply));
  absl::StatusOr<std::string> address = RequiredString(*body, "address");
  if (!address.ok()) return reply(address.status());
  backend_->Join(*id, *address, std::move(reply));
}

}  // namespace concordance::gateway
