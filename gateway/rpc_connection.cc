#include "gateway/rpc_connection.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/codec.h"
#include "gateway/status_map.h"
#include "gateway/url.h"

namespace concordance::gateway {
namespace {

std::string Finish(rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

std::string ResultMessage(const std::string& id_json, const std::string& result_json) {
  return absl::StrCat("{\"jsonrpc\":\"2.0\",\"id\":", id_json, ",\"result\":", result_json, "}");
}

}  // namespace

std::string RpcError(const std::string& id_json, int code, const absl::Status& s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "jsonrpc");
  String(w, "2.0");
  Key(w, "id");
  Raw(w, id_json);
  Key(w, "error");
  w.StartObject();
  Key(w, "code");
  w.Int(code);
  Key(w, "message");
  String(w, SafeText(s.message()));
  Key(w, "data");
  w.StartObject();
  Key(w, "code");
  switch (code) {
    case kRpcParseError:
      String(w, "parse_error");
      break;
    case kRpcInvalidRequest:
      String(w, "invalid_request");
      break;
    case kRpcMethodNotFound:
      String(w, "method_not_found");
      break;
    default:
      String(w, ToWire(s).code);
  }
  WriteErrorDetails(w, s);
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return Finish(buf);
}

// Forwards one subscription's changes to the connection as watch/change
// notifications; outlives the connection harmlessly.
class RpcConnection::Sink : public ChangeSink {
 public:
  explicit Sink(std::weak_ptr<RpcConnection> conn) : conn_(std::move(conn)) {}
  void OnChange(const std::string& id, std::shared_ptr<const v1::ChangeEvent> c) override {
    std::shared_ptr<RpcConnection> conn = conn_.lock();
    if (!conn) return;
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    Key(w, "jsonrpc");
    String(w, "2.0");
    Key(w, "method");
    String(w, "watch/change");
    Key(w, "params");
    WriteChange(w, *c, id);
    w.EndObject();
    conn->hooks_.send(Finish(buf));
  }
  void OnEnded(const std::string& id, absl::Status why) override {
    std::shared_ptr<RpcConnection> conn = conn_.lock();
    if (!conn) return;
    {
      absl::MutexLock l(&conn->mu_);
      conn->subscriptions_.erase(id);
    }
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    Key(w, "jsonrpc");
    String(w, "2.0");
    Key(w, "method");
    String(w, "watch/ended");
    Key(w, "params");
    w.StartObject();
    Key(w, "subscriptionId");
    String(w, id);
    Key(w, "code");
    String(w, ToWire(why).code);
    Key(w, "message");
    String(w, SafeText(why.message()));
    WriteErrorDetails(w, why);
    w.EndObject();
    w.EndObject();
    conn->hooks_.send(Finish(buf));
  }
  bool HasRoom() const override {
    std::shared_ptr<RpcConnection> conn = conn_.lock();
    return conn == nullptr || !conn->hooks_.has_room || conn->hooks_.has_room();
  }
  void OnRoom(std::function<void()> fn) override {
    std::shared_ptr<RpcConnection> conn = conn_.lock();
    if (conn == nullptr || !conn->hooks_.on_room) return fn();
    conn->hooks_.on_room(std::move(fn));
  }

 private:
  std::weak_ptr<RpcConnection> conn_;
};

RpcConnection::RpcConnection(Api api, Caller caller, Options options, Hooks hooks,
                             metrics::Registry* metrics)
    : api_(api),
      caller_(std::move(caller)),
      options_(options),
      hooks_(std::move(hooks)),
      metrics_(metrics) {}

void RpcConnection::Finished() {
  if (in_flight_.fetch_sub(1) == options_.max_in_flight && hooks_.resume) hooks_.resume();
}

void RpcConnection::OnBinary() {
  hooks_.send(RpcError("null", kRpcInvalidRequest,
                       absl::InvalidArgumentError(
                           "binary frames are not supported on /stream; send JSON-RPC 2.0 "
                           "requests as text frames")));
}

void RpcConnection::OnText(const std::string& message) {
  bool invalid_utf8 = false;
  absl::StatusOr<rapidjson::Document> doc = ParseJson(message, kMaxJsonDepth, &invalid_utf8);
  if (!doc.ok()) {
    hooks_.send(RpcError("null", kRpcParseError, doc.status()));
    return;
  }
  if (doc->IsArray()) return DispatchBatch(*doc, invalid_utf8);
  in_flight_.fetch_add(1);
  auto self = shared_from_this();
  Dispatch(*doc, invalid_utf8, [self](std::string response) {
    if (!response.empty()) self->hooks_.send(std::move(response));
    self->Finished();
  });
}

void RpcConnection::DispatchBatch(const rapidjson::Value& batch, bool check_utf8) {
  size_t n = batch.Size();
  if (n == 0) {
    hooks_.send(RpcError("null", kRpcInvalidRequest, absl::InvalidArgumentError("empty batch")));
    return;
  }
  if (n > options_.max_batch_requests) {
    hooks_.send(RpcError("null", kRpcInvalidRequest,
                         absl::ResourceExhaustedError(absl::StrCat(
                             "batch of ", n, " requests; the limit is ", options_.max_batch_requests))));
    return;
  }
  struct Gather {
    absl::Mutex mu;
    std::vector<std::string> responses;
    size_t pending;
  };
  auto gather = std::make_shared<Gather>();
  gather->responses.resize(n);
  gather->pending = n;
  in_flight_.fetch_add(1);
  auto self = shared_from_this();
  for (rapidjson::SizeType i = 0; i < n; ++i) {
    Dispatch(batch[i], check_utf8, [self, gather, i](std::string response) {
      {
        absl::MutexLock l(&gather->mu);
        gather->responses[i] = std::move(response);
        if (--gather->pending > 0) return;
      }
      std::vector<std::string> answered;  // notifications have no answer
      for (std::string& r : gather->responses) {
        if (!r.empty()) answered.push_back(std::move(r));
      }
      if (!answered.empty()) self->hooks_.send(absl::StrCat("[", absl::StrJoin(answered, ","), "]"));
      self->Finished();
    });
  }
}

std::optional<std::string> RpcConnection::ReadEnvelope(const rapidjson::Value& req, bool check_utf8,
                                                       Envelope* out) {
  auto invalid = [](const std::string& id, int code, const char* why) {
    return RpcError(id, code, absl::InvalidArgumentError(why));
  };
  if (!req.IsObject()) return invalid("null", kRpcInvalidRequest, "a request must be a JSON object");
  auto id = req.FindMember("id");
  out->notification = id == req.MemberEnd();
  if (!out->notification) {
    if (!(id->value.IsString() || id->value.IsNumber() || id->value.IsNull()) ||
        (check_utf8 && HasInvalidUtf8(id->value))) {
      return invalid("null", kRpcInvalidRequest, "\"id\" must be a string, a number or null");
    }
    out->id_json = Serialize(id->value);
  }
  auto version = req.FindMember("jsonrpc");
  if (version == req.MemberEnd() || !version->value.IsString() ||
      absl::string_view(version->value.GetString(), version->value.GetStringLength()) != "2.0") {
    return invalid(out->id_json, kRpcInvalidRequest, "\"jsonrpc\" must be \"2.0\"");
  }
  auto method = req.FindMember("method");
  if (method == req.MemberEnd() || !method->value.IsString() ||
      (check_utf8 && HasInvalidUtf8(method->value))) {
    return invalid(out->id_json, kRpcInvalidRequest, "\"method\" must be a string");
  }
  out->method.assign(method->value.GetString(), method->value.GetStringLength());
  static const rapidjson::Value kNoParams(rapidjson::kObjectType);
  out->params = &kNoParams;
  auto p = req.FindMember("params");
  if (p == req.MemberEnd()) return std::nullopt;
  if (!p->value.IsObject()) return invalid(out->id_json, kRpcInvalidParams, "\"params\" must be an object");
  out->params = &p->value;
  if (check_utf8 && HasInvalidUtf8(*out->params)) {
    return invalid(out->id_json, kRpcInvalidParams,
                   "a string in \"params\" decodes to invalid UTF-8 (a lone surrogate escape such as "
                   "\\udc00?)");
  }
  return std::nullopt;
}

RpcConnection::Result RpcConnection::Reply(const Envelope& env, const std::string& label,
                                           Respond respond) {
  return [this, id_json = env.id_json, notification = env.notification, label,
          respond = std::move(respond)](absl::StatusOr<std::string> result) {
    if (metrics_ != nullptr) {
      metrics_
          ->GetCounter("concordance_rpc_requests_total",
                       "JSON-RPC requests on /stream by method and outcome.",
                       {{"method", label}, {"code", result.ok() ? "ok" : ToWire(result.status()).code}})
          ->Inc();
    }
    if (notification) return respond("");
    if (result.ok()) return respond(ResultMessage(id_json, *result));
    const absl::Status& s = result.status();
    int code = s.code() == absl::StatusCode::kUnimplemented ? kRpcMethodNotFound : ToWire(s).rpc_code;
    respond(RpcError(id_json, code, s));
  };
}

void RpcConnection::Dispatch(const rapidjson::Value& req, bool check_utf8, Respond respond) {
  Envelope env;
  if (std::optional<std::string> error = ReadEnvelope(req, check_utf8, &env)) {
    return respond(std::move(*error));
  }
  const MethodRow* row = nullptr;
  for (const MethodRow& r : Methods()) {
    if (env.method == r.name) row = &r;
  }
  // Clients choose method names: only known ones become metric labels, so a
  // client cannot grow the registry (and every /metrics page) without bound.
  Result done = Reply(env, row != nullptr ? env.method : "unknown", std::move(respond));
  if (row == nullptr) {
    return done(absl::UnimplementedError(absl::StrCat("unknown method \"", SafeText(env.method), "\"")));
  }
  absl::Status allowed = Authorize(caller_, row->method);
  if (!allowed.ok()) return done(allowed);
  (this->*row->handler)(*env.params, std::move(done));
}

const std::vector<RpcConnection::MethodRow>& RpcConnection::Methods() {
  static const auto* const kMethods = new std::vector<MethodRow>{
      {"kv/get", Method::kGet, &RpcConnection::KvGet},
      {"kv/list", Method::kList, &RpcConnection::KvList},
      {"kv/set", Method::kPut, &RpcConnection::KvSet},
      {"kv/delete", Method::kDelete, &RpcConnection::KvDelete},
      {"kv/batch", Method::kBatch, &RpcConnection::KvBatch},
      {"watch/subscribe", Method::kWatch, &RpcConnection::Subscribe},
      {"watch/unsubscribe", Method::kWatch, &RpcConnection::Unsubscribe},
  };
  return *kMethods;
}

namespace {

// An API callback that encodes its answer as the JSON-RPC result.
template <typename T>
Callback<T> Encode(std::function<void(absl::StatusOr<std::string>)> done,
                   std::string (*encode)(const T&)) {
  return [done = std::move(done), encode](absl::StatusOr<T> r) {
    if (!r.ok()) return done(r.status());
    done(encode(*r));
  };
}

// consistency and minSeq of a read.
template <typename Read>
absl::Status ReadOptions(const rapidjson::Value& p, Read* req) {
  absl::StatusOr<std::optional<int64_t>> min_seq = OptionalInt(p, "minSeq");
  if (!min_seq.ok()) return min_seq.status();
  if (*min_seq) req->set_min_seq(**min_seq);
  std::string consistency;
  absl::Status s = ReadString(p, "consistency", &consistency);
  if (!s.ok()) return s;
  absl::StatusOr<v1::Consistency> c = DecodeConsistency(consistency);
  if (!c.ok()) return c.status();
  req->set_consistency(*c);
  return absl::OkStatus();
}

}  // namespace

void RpcConnection::KvGet(const rapidjson::Value& p, Result done) {
  v1::GetRequest req;
  absl::Status s = ReadString(p, "namespace", req.mutable_namespace_());
  if (s.ok()) s = ReadString(p, "key", req.mutable_key());
  if (s.ok()) s = ReadOptions(p, &req);
  if (!s.ok()) return done(s);
  api_.kv->Get(caller_, req, Encode<v1::Entry>(std::move(done), EntryJson));
}

void RpcConnection::KvList(const rapidjson::Value& p, Result done) {
  v1::ListRequest req;
  absl::Status s = ReadString(p, "namespace", req.mutable_namespace_());
  if (s.ok()) s = ReadString(p, "prefix", req.mutable_prefix());
  if (s.ok()) s = ReadString(p, "after", req.mutable_after());
  if (s.ok()) s = ReadOptions(p, &req);
  absl::StatusOr<std::optional<int64_t>> limit = OptionalInt(p, "limit");
  if (s.ok()) s = limit.status();
  if (!s.ok()) return done(s);
  if (*limit) req.set_limit(**limit);
  api_.kv->List(caller_, req, Encode<v1::ListResponse>(std::move(done), ListJson));
}

void RpcConnection::KvSet(const rapidjson::Value& p, Result done) {
  v1::PutRequest req;
  absl::Status s = ReadString(p, "namespace", req.mutable_namespace_());
  if (s.ok()) s = ReadString(p, "key", req.mutable_key());
  if (s.ok()) s = DecodeWrite(p, &req);
  if (!s.ok()) return done(s);
  api_.kv->Put(caller_, req, Encode<v1::PutResponse>(std::move(done), PutResponseJson));
}

void RpcConnection::KvDelete(const rapidjson::Value& p, Result done) {
  v1::DeleteRequest req;
  absl::Status s = ReadString(p, "namespace", req.mutable_namespace_());
  if (s.ok()) s = ReadString(p, "key", req.mutable_key());
  absl::StatusOr<std::optional<int64_t>> ev = OptionalInt(p, "expectedVersion");
  if (s.ok()) s = ev.status();
  if (!s.ok()) return done(s);
  if (*ev) req.set_expected_version(**ev);
  api_.kv->Delete(caller_, req, Encode<v1::DeleteResponse>(std::move(done), DeleteResponseJson));
}

void RpcConnection::KvBatch(const rapidjson::Value& p, Result done) {
  v1::BatchRequest req;
  absl::Status s = DecodeBatch(p, &req);
  if (!s.ok()) return done(s);
  api_.kv->Batch(caller_, req, Encode<v1::BatchResponse>(std::move(done), BatchJson));
}

void RpcConnection::Subscribe(const rapidjson::Value& p, Result done) {
  v1::WatchRequest req;
  absl::StatusOr<std::optional<std::string>> tenant = OptionalString(p, "tenant");
  absl::StatusOr<std::optional<std::string>> ns = OptionalString(p, "namespace");
  absl::StatusOr<std::optional<int64_t>> from = OptionalInt(p, "fromSeq");
  for (const absl::Status& s : {tenant.status(), ns.status(), from.status()}) {
    if (!s.ok()) return done(s);
  }
  // Exactly one, or neither (which the service refuses).
  if (tenant->has_value() != ns->has_value()) {
    if (*tenant) req.set_tenant(**tenant);
    if (*ns) req.set_namespace_(**ns);
  }
  if (*from) req.set_from_seq(**from);
  {
    absl::MutexLock l(&mu_);
    if (closed_) return done(absl::UnavailableError("connection closed"));
    if (static_cast<int>(subscriptions_.size()) >= options_.max_subscriptions) {
      return done(absl::ResourceExhaustedError(absl::StrCat(
          "this connection already has ", subscriptions_.size(),
          " subscriptions; the limit is ", options_.max_subscriptions)));
    }
  }
  auto self = shared_from_this();
  api_.watch->Watch(caller_, req, std::make_shared<Sink>(self),
                    [self, done](absl::StatusOr<WatchStarted> r) {
                      if (!r.ok()) return done(r.status());
                      bool closed;
                      {
                        absl::MutexLock l(&self->mu_);
                        closed = self->closed_;
                        if (!closed) self->subscriptions_.insert(r->watch_id);
                      }
                      if (closed) {
                        self->api_.watch->Unwatch(r->watch_id);
                        return done(absl::UnavailableError("connection closed"));
                      }
                      done(WatchStartedJson(*r));
                    });
}

void RpcConnection::Unsubscribe(const rapidjson::Value& p, Result done) {
  std::string id;
  absl::Status s = ReadString(p, "subscriptionId", &id);
  if (!s.ok()) return done(s);
  if (id.empty()) return done(absl::InvalidArgumentError("\"subscriptionId\" is required"));
  bool known;
  {
    absl::MutexLock l(&mu_);
    known = subscriptions_.erase(id) > 0;
  }
  if (!known) {
    return done(absl::NotFoundError(absl::StrCat("no subscription ", SafeText(id), " on this connection")));
  }
  api_.watch->Unwatch(id);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "subscriptionId");
  String(w, id);
  Key(w, "unsubscribed");
  w.Bool(true);
  w.EndObject();
  done(std::string(buf.GetString(), buf.GetSize()));
}

void RpcConnection::Closed() {
  std::set<std::string> subs;
  {
    absl::MutexLock l(&mu_);
    closed_ = true;
    subs.swap(subscriptions_);
  }
  for (const std::string& id : subs) api_.watch->Unwatch(id);
}

}  // namespace concordance::gateway
