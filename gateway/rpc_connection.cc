#include "gateway/rpc_connection.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gateway/codec.h"
#include "gateway/status_map.h"

namespace concordance::gateway {
namespace {

std::string Finish(rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

std::string Result(const std::string& id_json, const std::string& result_json) {
  return absl::StrCat("{\"jsonrpc\":\"2.0\",\"id\":", id_json, ",\"result\":", result_json, "}");
}

std::string Str(const rapidjson::Value& p, const char* name) {
  auto it = p.FindMember(name);
  if (it == p.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

absl::Status RequireStrings(const rapidjson::Value& p, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = p.FindMember(n);
    if (it == p.MemberEnd()) return absl::InvalidArgumentError(absl::StrCat("\"", n, "\" is required"));
    if (!it->value.IsString()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", n, "\" must be a string"));
    }
  }
  return absl::OkStatus();
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

RpcConnection::RpcConnection(Backend* backend, Access access, std::string actor,
                             Options options, Hooks hooks, metrics::Registry* metrics)
    : backend_(backend),
      access_(access),
      actor_(std::move(actor)),
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
  if (!doc->IsArray()) {
    in_flight_.fetch_add(1);
    auto self = shared_from_this();
    Dispatch(*doc, invalid_utf8, [self](std::string response) {
      if (!response.empty()) self->hooks_.send(std::move(response));
      self->Finished();
    });
    return;
  }
  // A batch: answer with one array once every member is done.
  size_t n = doc->Size();
  if (n == 0) {
    hooks_.send(RpcError("null", kRpcInvalidRequest,
                         absl::InvalidArgumentError("empty batch")));
    return;
  }
  if (n > options_.max_batch_requests) {
    hooks_.send(RpcError("null", kRpcInvalidRequest,
                         absl::ResourceExhaustedError(absl::StrCat(
                             "batch of ", n, " requests; the limit is ",
                             options_.max_batch_requests))));
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
    Dispatch((*doc)[i], invalid_utf8, [self, gather, i](std::string response) {
      bool last;
      {
        absl::MutexLock l(&gather->mu);
        gather->responses[i] = std::move(response);
        last = --gather->pending == 0;
      }
      if (!last) return;
      std::string out = "[";
      bool any = false;
      for (const std::string& r : gather->responses) {
        if (r.empty()) continue;
        if (any) out += ",";
        out += r;
        any = true;
      }
      out += "]";
      if (any) self->hooks_.send(std::move(out));
      self->Finished();
    });
  }
}

void RpcConnection::Dispatch(const rapidjson::Value& req, bool check_utf8, Respond respond) {
  if (!req.IsObject()) {
    respond(RpcError("null", kRpcInvalidRequest,
                     absl::InvalidArgumentError("a request must be a JSON object")));
    return;
  }
  // The id, if any: a string, a number or null.
  std::string id_json = "null";
  auto id = req.FindMember("id");
  bool notification = id == req.MemberEnd();
  if (!notification) {
    if (!(id->value.IsString() || id->value.IsNumber() || id->value.IsNull()) ||
        (check_utf8 && HasInvalidUtf8(id->value))) {
      respond(RpcError("null", kRpcInvalidRequest,
                       absl::InvalidArgumentError("\"id\" must be a string, a number or null")));
      return;
    }
    id_json = Serialize(id->value);
  }
  auto version = req.FindMember("jsonrpc");
  if (version == req.MemberEnd() || !version->value.IsString() ||
      absl::string_view(version->value.GetString(), version->value.GetStringLength()) != "2.0") {
    respond(RpcError(id_json, kRpcInvalidRequest,
                     absl::InvalidArgumentError("\"jsonrpc\" must be \"2.0\"")));
    return;
  }
  auto method = req.FindMember("method");
  if (method == req.MemberEnd() || !method->value.IsString() ||
      (check_utf8 && HasInvalidUtf8(method->value))) {
    respond(RpcError(id_json, kRpcInvalidRequest,
                     absl::InvalidArgumentError("\"method\" must be a string")));
    return;
  }
  static const rapidjson::Value kNoParams(rapidjson::kObjectType);
  const rapidjson::Value* params = &kNoParams;
  auto p = req.FindMember("params");
  if (p != req.MemberEnd()) {
    if (!p->value.IsObject()) {
      respond(RpcError(id_json, kRpcInvalidParams,
                       absl::InvalidArgumentError("\"params\" must be an object")));
      return;
    }
    params = &p->value;
    if (check_utf8 && HasInvalidUtf8(*params)) {
      respond(RpcError(id_json, kRpcInvalidParams,
                       absl::InvalidArgumentError(
                           "a string in \"params\" decodes to invalid UTF-8 (a lone surrogate "
                           "escape such as \\udc00?)")));
      return;
    }
  }
  std::string name(method->value.GetString(), method->value.GetStringLength());
  // Clients choose method names: only known ones become metric labels, so a
  // client cannot grow the registry (and every /metrics page) without bound.
  static const auto* const kKnownMethods = new absl::flat_hash_set<std::string>{
      "kv/get", "kv/list", "kv/set", "kv/delete", "kv/batch", "watch/subscribe",
      "watch/unsubscribe"};
  std::string label = kKnownMethods->contains(name) ? name : "unknown";
  Call(name, *params,
       [this, id_json, notification, label, respond = std::move(respond)](
           absl::StatusOr<std::string> result) {
         if (metrics_ != nullptr) {
           metrics_
               ->GetCounter("concordance_rpc_requests_total",
                            "JSON-RPC requests on /stream by method and outcome.",
                            {{"method", label}, {"code", result.ok() ? "ok" : ToWire(result.status()).code}})
               ->Inc();
         }
         if (notification) return respond("");
         if (result.ok()) return respond(Result(id_json, *result));
         const absl::Status& s = result.status();
         int code = s.code() == absl::StatusCode::kUnimplemented ? kRpcMethodNotFound
                                                                 : ToWire(s).rpc_code;
         respond(RpcError(id_json, code, s));
       });
}

void RpcConnection::Call(const std::string& method, const rapidjson::Value& p,
                         std::function<void(absl::StatusOr<std::string>)> done) {
  auto need = [&](Access a) -> bool {
    if (access_ == Access::kWrite || a == Access::kRead) return true;
    done(absl::PermissionDeniedError("this key is read-only"));
    return false;
  };
  auto read_options = [&](ReadOptions* out) -> absl::Status {
    absl::StatusOr<std::optional<int64_t>> min_seq = OptionalInt(p, "minSeq");
    if (!min_seq.ok()) return min_seq.status();
    absl::StatusOr<std::optional<std::string>> c = OptionalString(p, "consistency");
    if (!c.ok()) return c.status();
    absl::StatusOr<ReadOptions> r = ParseReadOptions(c->value_or(""), *min_seq);
    if (!r.ok()) return r.status();
    *out = *r;
    return absl::OkStatus();
  };
  if (method == "kv/get") {
    if (!need(Access::kRead)) return;
    absl::Status s = RequireStrings(p, {"namespace", "key"});
    GetRequest req{Str(p, "namespace"), Str(p, "key"), {}};
    if (s.ok()) s = read_options(&req.read);
    if (!s.ok()) return done(s);
    backend_->Get(req, [done](absl::StatusOr<v1::Entry> e) {
      done(e.ok() ? absl::StatusOr<std::string>(EntryJson(*e)) : e.status());
    });
  } else if (method == "kv/list") {
    if (!need(Access::kRead)) return;
    absl::Status s = RequireStrings(p, {"namespace"});
    ListRequest req;
    req.ns = Str(p, "namespace");
    req.prefix = Str(p, "prefix");
    req.after = Str(p, "after");
    if (s.ok()) s = read_options(&req.read);
    absl::StatusOr<std::optional<int64_t>> limit = OptionalInt(p, "limit");
    if (s.ok() && !limit.ok()) s = limit.status();
    if (s.ok()) {
      absl::StatusOr<int> page = ParsePageLimit(*limit);
      if (page.ok()) req.limit = *page;
      s = page.status();
    }
    if (!s.ok()) return done(s);
    backend_->List(req, [done](absl::StatusOr<ListResult> r) {
      done(r.ok() ? absl::StatusOr<std::string>(ListJson(*r)) : r.status());
    });
  } else if (method == "kv/set") {
    if (!need(Access::kWrite)) return;
    absl::Status s = RequireStrings(p, {"namespace", "key"});
    SetRequest req;
    if (s.ok()) s = ParseSetBody(p, &req);
    if (!s.ok()) return done(s);
    req.ns = Str(p, "namespace");
    req.key = Str(p, "key");
    backend_->Set(req, actor_, [done](absl::StatusOr<SetResult> r) {
      done(r.ok() ? absl::StatusOr<std::string>(SetResultJson(*r)) : r.status());
    });
  } else if (method == "kv/delete") {
    if (!need(Access::kWrite)) return;
    absl::Status s = RequireStrings(p, {"namespace", "key"});
    absl::StatusOr<std::optional<int64_t>> ev = OptionalInt(p, "expectedVersion");
    if (s.ok() && !ev.ok()) s = ev.status();
    if (!s.ok()) return done(s);
    DeleteRequest req{Str(p, "namespace"), Str(p, "key"), *ev};
    backend_->Delete(req, actor_, [done](absl::StatusOr<DeleteResult> r) {
      done(r.ok() ? absl::StatusOr<std::string>(DeleteResultJson(*r)) : r.status());
    });
  } else if (method == "kv/batch") {
    if (!need(Access::kWrite)) return;
    auto ops = p.FindMember("ops");
    if (ops == p.MemberEnd()) return done(absl::InvalidArgumentError("\"ops\" is required"));
    absl::StatusOr<std::vector<BatchOp>> parsed = ParseBatchOps(ops->value);
    if (!parsed.ok()) return done(parsed.status());
    backend_->Batch(*parsed, actor_, [done](absl::StatusOr<BatchResult> r) {
      done(r.ok() ? absl::StatusOr<std::string>(BatchResultJson(*r)) : r.status());
    });
  } else if (method == "watch/subscribe") {
    if (!need(Access::kRead)) return;
    SubscribeRequest req;
    absl::StatusOr<std::optional<std::string>> tenant = OptionalString(p, "tenant");
    absl::StatusOr<std::optional<std::string>> ns = OptionalString(p, "namespace");
    absl::StatusOr<std::optional<int64_t>> from = OptionalInt(p, "fromSeq");
    for (const absl::Status& s : {tenant.status(), ns.status(), from.status()}) {
      if (!s.ok()) return done(s);
    }
    if (tenant->has_value() == ns->has_value()) {
      return done(absl::InvalidArgumentError("give exactly one of \"tenant\" or \"namespace\""));
    }
    if (*from && **from < 0) return done(absl::InvalidArgumentError("\"fromSeq\" must be >= 0"));
    req.tenant = tenant->value_or("");
    req.ns = ns->value_or("");
    req.from_seq = *from;
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
    backend_->Subscribe(req, std::make_shared<Sink>(self),
                        [self, done](absl::StatusOr<SubscribeResult> r) {
                          if (!r.ok()) return done(r.status());
                          bool closed;
                          {
                            absl::MutexLock l(&self->mu_);
                            closed = self->closed_;
                            if (!closed) self->subscriptions_.insert(r->subscription_id);
                          }
                          if (closed) {
                            self->backend_->Unsubscribe(r->subscription_id);
                            return done(absl::UnavailableError("connection closed"));
                          }
                          done(SubscribeResultJson(*r));
                        });
  } else if (method == "watch/unsubscribe") {
    if (!need(Access::kRead)) return;
    absl::Status s = RequireStrings(p, {"subscriptionId"});
    if (!s.ok()) return done(s);
    std::string id = Str(p, "subscriptionId");
    bool known;
    {
      absl::MutexLock l(&mu_);
      known = subscriptions_.erase(id) > 0;
    }
    if (!known) return done(absl::NotFoundError(absl::StrCat("no subscription ", id, " on this connection")));
    backend_->Unsubscribe(id);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    Key(w, "subscriptionId");
    String(w, id);
    Key(w, "unsubscribed");
    w.Bool(true);
    w.EndObject();
    done(Finish(buf));
  } else {
    done(absl::UnimplementedError(absl::StrCat("unknown method \"", method, "\"")));
  }
}

void RpcConnection::Closed() {
  std::set<std::string> subs;
  {
    absl::MutexLock l(&mu_);
    closed_ = true;
    subs.swap(subscriptions_);
  }
  for (const std::string& id : subs) backend_->Unsubscribe(id);
}

}  // namespace concordance::gateway
