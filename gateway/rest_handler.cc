#include "gateway/rest_handler.h"

#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/codec.h"
#include "gateway/status_map.h"
#include "gateway/url.h"
#include "util/status_payloads.h"

namespace concordance::gateway {
namespace {

constexpr absl::string_view kKvPrefix = "/api/v1/kv/";

// What a path names.
enum class PathKind {
  kUnknown, kHealth, kReady, kMetrics, kKey, kList, kBadKvPath, kBatch, kChanges,
  kStatus, kJoin, kRemove, kTransfer, kSnapshot,
};

// The kind of `path`, with a /kv/ path's namespace and key decoded (a bad
// %-escape: the error, and kUnknown).
absl::StatusOr<PathKind> Classify(const std::string& path, std::string* ns, std::string* key) {
  static const auto* const kFixed = new std::map<std::string, PathKind>{
      {"/api/v1/health", PathKind::kHealth},
      {"/api/v1/ready", PathKind::kReady},
      {"/metrics", PathKind::kMetrics},
      {"/api/v1/batch", PathKind::kBatch},
      {"/api/v1/changes", PathKind::kChanges},
      {"/api/v1/cluster/status", PathKind::kStatus},
      {"/api/v1/cluster/join", PathKind::kJoin},
      {"/api/v1/cluster/remove", PathKind::kRemove},
      {"/api/v1/cluster/transfer-leadership", PathKind::kTransfer},
      {"/api/v1/snapshot", PathKind::kSnapshot},
  };
  auto fixed = kFixed->find(path);
  if (fixed != kFixed->end()) return fixed->second;
  if (!absl::StartsWith(path, kKvPrefix)) return PathKind::kUnknown;
  absl::string_view rest = absl::string_view(path).substr(kKvPrefix.size());
  if (absl::EndsWith(rest, "/")) {
    absl::StatusOr<std::string> n = PercentDecode(rest.substr(0, rest.size() - 1));
    if (!n.ok()) return n.status();
    *ns = std::move(*n);
    return PathKind::kList;
  }
  size_t slash = rest.rfind('/');
  if (slash == absl::string_view::npos) return PathKind::kBadKvPath;
  absl::StatusOr<std::string> n = PercentDecode(rest.substr(0, slash));
  if (!n.ok()) return n.status();
  absl::StatusOr<std::string> k = PercentDecode(rest.substr(slash + 1));
  if (!k.ok()) return k.status();
  *ns = std::move(*n);
  *key = std::move(*k);
  return PathKind::kKey;
}

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

// consistency= and minSeq= into a read request.
template <typename Read>
absl::Status QueryReadOptions(const std::map<std::string, std::string>& q, Read* req) {
  absl::StatusOr<std::optional<int64_t>> min_seq = QueryInt(q, "minSeq");
  if (!min_seq.ok()) return min_seq.status();
  if (*min_seq) req->set_min_seq(**min_seq);
  absl::StatusOr<v1::Consistency> c = DecodeConsistency(QueryString(q, "consistency"));
  if (!c.ok()) return c.status();
  req->set_consistency(*c);
  return absl::OkStatus();
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
                  std::function<std::string(const T&)> encode, std::string target = "",
                  std::string scheme = "http") {
  return [done = std::move(done), encode = std::move(encode), target = std::move(target),
          scheme = std::move(scheme)](absl::StatusOr<T> r) {
    if (!r.ok()) {
      done(RestHandler::Error(r.status(), target, scheme));
    } else {
      done(Json(200, encode(*r)));
    }
  };
}

}  // namespace

struct RestHandler::Route {
  const char* http_method;
  PathKind path;
  std::optional<Method> method;  // the API method (its access); none: no key needed
  const char* label;             // the metrics label
  Handler handler;
};

const std::vector<RestHandler::Route>& RestHandler::Routes() {
  static const auto* const kRoutes = new std::vector<Route>{
      {"GET", PathKind::kHealth, std::nullopt, "health", &RestHandler::Health},
      {"GET", PathKind::kReady, std::nullopt, "ready", &RestHandler::Ready},
      {"GET", PathKind::kMetrics, Method::kMetrics, "metrics", &RestHandler::Metrics},
      {"GET", PathKind::kKey, Method::kGet, "kv_get", &RestHandler::KvGet},
      {"PUT", PathKind::kKey, Method::kPut, "kv_put", &RestHandler::KvPut},
      {"DELETE", PathKind::kKey, Method::kDelete, "kv_delete", &RestHandler::KvDelete},
      {"GET", PathKind::kList, Method::kList, "kv_list", &RestHandler::KvList},
      {"POST", PathKind::kBatch, Method::kBatch, "batch", &RestHandler::Batch},
      {"GET", PathKind::kChanges, Method::kChanges, "changes", &RestHandler::Changes},
      {"GET", PathKind::kStatus, Method::kStatus, "cluster_status", &RestHandler::ClusterStatus},
      {"POST", PathKind::kJoin, Method::kJoin, "cluster_join", &RestHandler::ClusterJoin},
      {"POST", PathKind::kRemove, Method::kRemove, "cluster_remove", &RestHandler::ClusterRemove},
      {"POST", PathKind::kTransfer, Method::kTransferLeadership, "cluster_transfer-leadership",
       &RestHandler::ClusterTransfer},
      {"GET", PathKind::kSnapshot, Method::kSnapshot, "snapshot", &RestHandler::Snapshot},
  };
  return *kRoutes;
}

RestHandler::RestHandler(Api api, const Authenticator* auth, Options options,
                         metrics::Registry* metrics)
    : api_(api), auth_(auth), options_(options), metrics_(metrics) {}

HttpResponse RestHandler::Error(const absl::Status& s, absl::string_view target,
                                absl::string_view scheme) {
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
      r.headers.emplace_back("Location", absl::StrCat(scheme, "://", *address, target));
    }
  }
  if (wire.http_status == 503) r.headers.emplace_back("Retry-After", "1");
  if (wire.http_status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

RestHandler::RouteSeries RestHandler::SeriesFor(const std::string& route,
                                                const std::string& method, int code) {
  std::string key = absl::StrCat(route, " ", method, " ", code);
  absl::MutexLock l(&series_mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second;
  RouteSeries series{
      metrics_->GetCounter("concordance_http_requests_total", "HTTP requests by route and status.",
                           {{"route", route}, {"method", method}, {"code", absl::StrCat(code)}}),
      metrics_->GetHistogram("concordance_http_request_duration_seconds",
                             "HTTP request latency by route.", metrics::LatencyBuckets(),
                             {{"route", route}})};
  series_.emplace(std::move(key), series);
  return series;
}

void RestHandler::Handle(HttpRequest req, std::function<void(HttpResponse)> done) {
  auto start = std::chrono::steady_clock::now();
  auto label = std::make_shared<std::string>("unknown");
  // Beast accepts any token as a method: only standard ones become metric
  // labels, so clients cannot grow the registry without bound.
  static const auto* const kKnownMethods = new absl::flat_hash_set<std::string>{
      "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"};
  std::string method = kKnownMethods->contains(req.method) ? req.method : "other";
  Done finish = [this, done = std::move(done), start, label, method](HttpResponse r) {
    if (metrics_ != nullptr) {
      RouteSeries series = SeriesFor(*label, method, r.status);
      series.requests->Inc();
      series.seconds->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    done(std::move(r));
  };
  size_t qpos = req.target.find('?');
  std::string path = req.target.substr(0, qpos);
  absl::StatusOr<std::map<std::string, std::string>> query =
      ParseQuery(qpos == std::string::npos ? "" : absl::string_view(req.target).substr(qpos + 1));
  if (!query.ok()) return finish(Error(query.status()));
  if (req.body.size() > options_.limits.max_body_bytes) {
    return finish(Error(absl::ResourceExhaustedError(
        absl::StrCat("request body is ", req.body.size(), " bytes; the limit is ",
                     options_.limits.max_body_bytes))));
  }
  Dispatch(req, path, std::move(*query), std::move(finish), label.get());
}

void RestHandler::Dispatch(HttpRequest& req, const std::string& path,
                           std::map<std::string, std::string> query, Done done,
                           std::string* label) {
  // HEAD is GET without the body (the server drops it, keeping the headers).
  const std::string m = req.method == "HEAD" ? "GET" : req.method;
  Call call{req, std::move(query), "", "", Caller{}};
  absl::StatusOr<PathKind> kind = Classify(path, &call.ns, &call.key);
  if (!kind.ok()) return done(Error(kind.status()));
  const Route* route = nullptr;
  std::vector<std::string> allowed;
  for (const Route& r : Routes()) {
    if (r.path != *kind) continue;
    allowed.push_back(r.http_method);
    if (m == r.http_method) route = &r;
  }
  bool open = *kind == PathKind::kHealth || *kind == PathKind::kReady;
  if (!open) {
    // Everything else needs a key, whatever the method.
    call.caller.access = auth_->Authenticate(req.authorization);
    call.caller.key_presented = !BearerToken(req.authorization).empty();
    absl::Status s = Authorize(call.caller, route != nullptr ? *route->method : Method::kGet);
    if (!s.ok()) {
      *label = "auth";
      return done(Error(s));
    }
    absl::StatusOr<std::string> actor = ResolveActor(req.actor, call.caller.access);
    if (!actor.ok()) return done(Error(actor.status()));
    call.caller.actor = std::move(*actor);
  }
  if (route != nullptr) {
    *label = route->label;
    return (this->*route->handler)(call, std::move(done));
  }
  if (*kind == PathKind::kUnknown) {
    return done(Error(absl::NotFoundError(absl::StrCat("no such endpoint: ", req.method, " ", path))));
  }
  *label = *kind == PathKind::kList ? "kv_list" : "kv";
  if (*kind == PathKind::kBadKvPath) {
    return done(Error(absl::InvalidArgumentError(
        "expected /api/v1/kv/{namespace}/{key} (or a trailing / to list)")));
  }
  if (*kind == PathKind::kList && (m == "PUT" || m == "DELETE")) {
    return done(Error(absl::InvalidArgumentError(
        "key is empty (a path ending in / lists the namespace)")));
  }
  std::string allow = absl::StrJoin(allowed, ", ");
  HttpResponse r = Json(405, absl::StrCat(
      "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"use ", allow, "\"}}"));
  r.headers.emplace_back("Allow", allow);
  done(std::move(r));
}

void RestHandler::Health(Call&, Done done) {
  v1::StatusResponse s = api_.cluster->LocalStatus();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "status");
  String(w, "ok");
  Key(w, "nodeId");
  String(w, s.node_id());
  w.EndObject();
  done(Json(200, std::string(buf.GetString(), buf.GetSize())));
}

void RestHandler::Ready(Call&, Done done) {
  std::string why;
  if (api_.cluster->Ready(&why)) return done(Json(200, "{\"ready\":true}"));
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

void RestHandler::Metrics(Call& c, Done done) {
  absl::StatusOr<std::string> text = api_.maintenance->Metrics(c.caller);
  if (!text.ok()) return done(Error(text.status()));
  HttpResponse r = Json(200, std::move(*text));
  r.content_type = "text/plain; version=0.0.4";
  done(std::move(r));
}

void RestHandler::KvGet(Call& c, Done done) {
  v1::GetRequest req;
  req.set_namespace_(c.ns);
  req.set_key(c.key);
  absl::Status s = QueryReadOptions(c.query, &req);
  if (!s.ok()) return done(Error(s));
  api_.kv->Get(c.caller, req, Reply<v1::Entry>(std::move(done), EntryJson));
}

void RestHandler::KvList(Call& c, Done done) {
  v1::ListRequest req;
  req.set_namespace_(c.ns);
  req.set_prefix(QueryString(c.query, "prefix"));
  req.set_after(QueryString(c.query, "after"));
  absl::Status s = QueryReadOptions(c.query, &req);
  absl::StatusOr<std::optional<int64_t>> limit = QueryInt(c.query, "limit");
  if (s.ok()) s = limit.status();
  if (!s.ok()) return done(Error(s));
  if (*limit) req.set_limit(**limit);
  api_.kv->List(c.caller, req, Reply<v1::ListResponse>(std::move(done), ListJson));
}

void RestHandler::KvPut(Call& c, Done done) {
  absl::StatusOr<rapidjson::Document> body = BodyObject(c.http.body);
  if (!body.ok()) return done(Error(body.status()));
  v1::PutRequest req;
  absl::Status s = DecodeWrite(*body, &req);
  if (!s.ok()) return done(Error(s));
  req.set_namespace_(c.ns);
  req.set_key(c.key);
  api_.kv->Put(c.caller, req,
               Reply<v1::PutResponse>(std::move(done), PutResponseJson, c.http.target, options_.scheme));
}

void RestHandler::KvDelete(Call& c, Done done) {
  v1::DeleteRequest req;
  req.set_namespace_(c.ns);
  req.set_key(c.key);
  absl::StatusOr<std::optional<int64_t>> ev = QueryInt(c.query, "expectedVersion");
  if (!ev.ok()) return done(Error(ev.status()));
  if (*ev) req.set_expected_version(**ev);
  api_.kv->Delete(c.caller, req,
                  Reply<v1::DeleteResponse>(std::move(done), DeleteResponseJson, c.http.target, options_.scheme));
}

void RestHandler::Batch(Call& c, Done done) {
  absl::StatusOr<rapidjson::Document> body = BodyObject(c.http.body);
  if (!body.ok()) return done(Error(body.status()));
  v1::BatchRequest req;
  absl::Status s = DecodeBatch(*body, &req);
  if (!s.ok()) return done(Error(s));
  api_.kv->Batch(c.caller, req, Reply<v1::BatchResponse>(std::move(done), BatchJson, c.http.target, options_.scheme));
}

void RestHandler::Changes(Call& c, Done done) {
  v1::ChangesRequest req;
  std::string tenant = QueryString(c.query, "tenant"), ns = QueryString(c.query, "namespace");
  // Exactly one, or neither (which the service refuses).
  if (tenant.empty() != ns.empty()) {
    if (!tenant.empty()) req.set_tenant(tenant);
    if (!ns.empty()) req.set_namespace_(ns);
  }
  absl::StatusOr<std::optional<int64_t>> since = QueryInt(c.query, "since");
  absl::StatusOr<std::optional<int64_t>> wait = QueryInt(c.query, "wait");
  absl::StatusOr<std::optional<int64_t>> limit = QueryInt(c.query, "limit");
  for (const absl::Status& s : {since.status(), wait.status(), limit.status()}) {
    if (!s.ok()) return done(Error(s));
  }
  req.set_since(since->value_or(0));
  req.set_wait_ms(wait->value_or(0));
  if (*limit) req.set_limit(**limit);
  api_.changes->List(c.caller, req, c.http.cancel,
                     Reply<v1::ChangesResponse>(std::move(done), ChangesJson));
}

void RestHandler::ClusterStatus(Call& c, Done done) {
  api_.cluster->Status(c.caller, Reply<v1::StatusResponse>(std::move(done), StatusJson));
}

void RestHandler::ClusterJoin(Call& c, Done done) {
  absl::StatusOr<rapidjson::Document> body = BodyObject(c.http.body);
  if (!body.ok()) return done(Error(body.status()));
  v1::JoinRequest req;
  absl::Status s = ReadString(*body, "nodeId", req.mutable_node_id());
  if (s.ok()) s = ReadString(*body, "address", req.mutable_address());
  if (!s.ok()) return done(Error(s));
  api_.cluster->Join(c.caller, req,
                     Reply<v1::StatusResponse>(std::move(done), StatusJson, c.http.target, options_.scheme));
}

void RestHandler::ClusterRemove(Call& c, Done done) {
  absl::StatusOr<rapidjson::Document> body = BodyObject(c.http.body);
  if (!body.ok()) return done(Error(body.status()));
  v1::RemoveRequest req;
  absl::Status s = ReadString(*body, "nodeId", req.mutable_node_id());
  if (!s.ok()) return done(Error(s));
  api_.cluster->Remove(c.caller, req,
                       Reply<v1::StatusResponse>(std::move(done), StatusJson, c.http.target, options_.scheme));
}

void RestHandler::ClusterTransfer(Call& c, Done done) {
  v1::TransferLeadershipRequest req;
  if (!c.http.body.empty()) {
    absl::StatusOr<rapidjson::Document> body = BodyObject(c.http.body);
    if (!body.ok()) return done(Error(body.status()));
    absl::Status s = ReadString(*body, "nodeId", req.mutable_node_id());
    if (!s.ok()) return done(Error(s));
  }
  api_.cluster->TransferLeadership(
      c.caller, req, Reply<v1::StatusResponse>(std::move(done), StatusJson, c.http.target, options_.scheme));
}

void RestHandler::Snapshot(Call& c, Done done) {
  api_.maintenance->Snapshot(c.caller, [done = std::move(done)](absl::StatusOr<std::string> image) {
    if (!image.ok()) return done(Error(image.status()));
    HttpResponse r;
    r.content_type = "application/vnd.sqlite3";
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"state.db\"");
    r.body = std::move(*image);
    done(std::move(r));
  });
}

}  // namespace concordance::gateway
