#include "gateway/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_posix.h>
#include <openssl/sha.h>
#include <sys/socket.h>

#include <deque>

#include "absl/strings/escaping.h"
#include "google/protobuf/io/coded_stream.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gateway/json.h"
#include "gateway/status_map.h"
#include "glog/logging.h"
#include "proto/concordance/v1/cluster.grpc.pb.h"
#include "proto/concordance/v1/kv.grpc.pb.h"
#include "proto/concordance/v1/maintenance.grpc.pb.h"
#include "proto/concordance/v1/watch.grpc.pb.h"
#include "util/status_payloads.h"

namespace concordance::gateway {
namespace {

using Ctx = grpc::CallbackServerContext;

std::optional<std::string> Metadata(const Ctx* ctx, const char* name) {
  auto it = ctx->client_metadata().find(name);
  if (it == ctx->client_metadata().end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

// The status for `s`, with §13's details as trailing metadata. Call once,
// before Finish.
grpc::Status ToGrpc(Ctx* ctx, const absl::Status& s) {
  WireError w = ToWire(s);
  ctx->AddTrailingMetadata("concordance-error-code", w.code);
  if (auto id = TextPayload(s, kLeaderIdPayload)) {
    ctx->AddTrailingMetadata("concordance-leader-id", *id);
    ctx->AddTrailingMetadata("concordance-leader-address",
                             TextPayload(s, kLeaderAddressPayload).value_or(""));
  }
  if (auto v = IntPayload(s, kCurrentVersionPayload)) {
    ctx->AddTrailingMetadata("concordance-current-version", absl::StrCat(*v));
  }
  if (auto v = IntPayload(s, kOpIndexPayload)) {
    ctx->AddTrailingMetadata("concordance-op-index", absl::StrCat(*v));
  }
  if (auto v = IntPayload(s, kOldestSeqPayload)) {
    ctx->AddTrailingMetadata("concordance-oldest-seq", absl::StrCat(*v));
  }
  if (s.GetPayload(kIndeterminatePayload).has_value()) {
    // The write may or may not have been applied: not safe to retry blindly.
    ctx->AddTrailingMetadata("concordance-indeterminate", "true");
  }
  return grpc::Status(static_cast<grpc::StatusCode>(w.grpc_code), SafeText(s.message()));
}

// Who is calling, and whether they may call `m` (checked first, as on
// every front-end), with the actor resolved.
absl::Status Admit(const Ctx* ctx, const Authenticator* auth, Method m, Caller* caller) {
  std::string authorization = Metadata(ctx, "authorization").value_or("");
  caller->access = auth->Authenticate(authorization);
  caller->key_presented = !BearerToken(authorization).empty();
  absl::Status s = Authorize(*caller, m);
  if (!s.ok()) return s;
  absl::StatusOr<std::string> actor = ResolveActor(Metadata(ctx, "x-concordance-actor"), caller->access);
  if (!actor.ok()) return actor.status();
  caller->actor = std::move(*actor);
  return absl::OkStatus();
}

// A unary call: admit, call the API with a callback that fills the
// response and finishes.
template <typename Req, typename Resp, typename Call>
grpc::ServerUnaryReactor* Unary(Ctx* ctx, const Authenticator* auth, Method m, const Req* req,
                                Resp* resp, Call call) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Caller caller;
  absl::Status s = Admit(ctx, auth, m, &caller);
  if (!s.ok()) {
    reactor->Finish(ToGrpc(ctx, s));
    return reactor;
  }
  call(caller, *req, [ctx, reactor, resp](absl::StatusOr<Resp> r) {
    if (!r.ok()) return reactor->Finish(ToGrpc(ctx, r.status()));
    *resp = std::move(*r);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

class KvGrpc final : public v1::KV::CallbackService {
 public:
  KvGrpc(KvApi* kv, const Authenticator* auth) : kv_(kv), auth_(auth) {}
  grpc::ServerUnaryReactor* Get(Ctx* ctx, const v1::GetRequest* req, v1::Entry* resp) override {
    return Unary(ctx, auth_, Method::kGet, req, resp,
                 [this](const Caller& c, const v1::GetRequest& r, Callback<v1::Entry> d) {
                   kv_->Get(c, r, std::move(d));
                 });
  }
  grpc::ServerUnaryReactor* Put(Ctx* ctx, const v1::PutRequest* req, v1::PutResponse* resp) override {
    return Unary(ctx, auth_, Method::kPut, req, resp,
                 [this](const Caller& c, const v1::PutRequest& r, Callback<v1::PutResponse> d) {
                   kv_->Put(c, r, std::move(d));
                 });
  }
  grpc::ServerUnaryReactor* Delete(Ctx* ctx, const v1::DeleteRequest* req,
                                   v1::DeleteResponse* resp) override {
    return Unary(ctx, auth_, Method::kDelete, req, resp,
                 [this](const Caller& c, const v1::DeleteRequest& r, Callback<v1::DeleteResponse> d) {
                   kv_->Delete(c, r, std::move(d));
                 });
  }
  grpc::ServerUnaryReactor* List(Ctx* ctx, const v1::ListRequest* req,
                                 v1::ListResponse* resp) override {
    return Unary(ctx, auth_, Method::kList, req, resp,
                 [this](const Caller& c, const v1::ListRequest& r, Callback<v1::ListResponse> d) {
                   kv_->List(c, r, std::move(d));
                 });
  }
  grpc::ServerUnaryReactor* Batch(Ctx* ctx, const v1::BatchRequest* req,
                                  v1::BatchResponse* resp) override {
    return Unary(ctx, auth_, Method::kBatch, req, resp,
                 [this](const Caller& c, const v1::BatchRequest& r, Callback<v1::BatchResponse> d) {
                   kv_->Batch(c, r, std::move(d));
                 });
  }

 private:
  KvApi* kv_;
  const Authenticator* auth_;
};

class ClusterGrpc final : public v1::Cluster::CallbackService {
 public:
  ClusterGrpc(ClusterApi* cluster, const Authenticator* auth) : cluster_(cluster), auth_(auth) {}
  grpc::ServerUnaryReactor* Status(Ctx* ctx, const v1::StatusRequest* req,
                                   v1::StatusResponse* resp) override {
    return Unary(ctx, auth_, Method::kStatus, req, resp,
                 [this](const Caller& c, const v1::StatusRequest&, Callback<v1::StatusResponse> d) {
                   cluster_->Status(c, std::move(d));
                 });
  }
  grpc::ServerUnaryReactor* Join(Ctx* ctx, const v1::JoinRequest* req,
                                 v1::StatusResponse* resp) override {
    return Unary(ctx, auth_, Method::kJoin, req, resp,
                 [this](const Caller& c, const v1::JoinRequest& r, Callback<v1::StatusResponse> d) {
                   cluster_->Join(c, r, std::move(d));
                 });
  }
  grpc::ServerUnaryReactor* Remove(Ctx* ctx, const v1::RemoveRequest* req,
                                   v1::StatusResponse* resp) override {
    return Unary(ctx, auth_, Method::kRemove, req, resp,
                 [this](const Caller& c, const v1::RemoveRequest& r, Callback<v1::StatusResponse> d) {
                   cluster_->Remove(c, r, std::move(d));
                 });
  }
  grpc::ServerUnaryReactor* TransferLeadership(Ctx* ctx, const v1::TransferLeadershipRequest* req,
                                               v1::StatusResponse* resp) override {
    return Unary(ctx, auth_, Method::kTransferLeadership, req, resp,
                 [this](const Caller& c, const v1::TransferLeadershipRequest& r,
                        Callback<v1::StatusResponse> d) {
                   cluster_->TransferLeadership(c, r, std::move(d));
                 });
  }

 private:
  ClusterApi* cluster_;
  const Authenticator* auth_;
};

// Changes.List: a unary call whose long-poll is abandoned when the client
// cancels.
class ChangesReactor final : public grpc::ServerUnaryReactor {
 public:
  ChangesReactor() : cancel_(std::make_shared<Cancellation>()) {}
  const std::shared_ptr<Cancellation>& cancel() const { return cancel_; }
  void OnCancel() override { cancel_->Cancel(); }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<Cancellation> cancel_;
};

class ChangesGrpc final : public v1::Changes::CallbackService {
 public:
  ChangesGrpc(ChangesApi* changes, const Authenticator* auth) : changes_(changes), auth_(auth) {}
  grpc::ServerUnaryReactor* List(Ctx* ctx, const v1::ChangesRequest* req,
                                 v1::ChangesResponse* resp) override {
    auto* reactor = new ChangesReactor();
    Caller caller;
    absl::Status s = Admit(ctx, auth_, Method::kChanges, &caller);
    if (!s.ok()) {
      reactor->Finish(ToGrpc(ctx, s));
      return reactor;
    }
    changes_->List(caller, *req, reactor->cancel(),
                   [ctx, reactor, resp](absl::StatusOr<v1::ChangesResponse> r) {
                     if (!r.ok()) return reactor->Finish(ToGrpc(ctx, r.status()));
                     *resp = std::move(*r);
                     reactor->Finish(grpc::Status::OK);
                   });
    return reactor;
  }

 private:
  ChangesApi* changes_;
  const Authenticator* auth_;
};

// One Watch call: a bounded queue of responses written one at a time. The
// state is shared with the sink the hub calls, and outlives the reactor
// (gRPC deletes it in OnDone); every step runs under `mu`, and gRPC is
// called with it released.
class WatchReactor final : public grpc::ServerWriteReactor<v1::WatchResponse> {
 public:
  // What to ask of gRPC once `mu` is released: gRPC may run a reaction
  // (OnWriteDone) inline at the end of StartWrite, and it takes `mu`.
  struct Action {
    WatchReactor* reactor = nullptr;
    const v1::WatchResponse* write = nullptr;
    std::optional<grpc::Status> finish;
    void Run() {
      if (write != nullptr) reactor->StartWrite(write);
      if (finish) reactor->Finish(*finish);
    }
  };

  struct State : ChangeSink {
    absl::Mutex mu;
    WatchReactor* reactor ABSL_GUARDED_BY(mu);  // null once done
    std::deque<v1::WatchResponse> queue ABSL_GUARDED_BY(mu);  // front: being written
    size_t queued_bytes ABSL_GUARDED_BY(mu) = 0;
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool finished ABSL_GUARDED_BY(mu) = false;
    std::optional<absl::Status> end ABSL_GUARDED_BY(mu);  // finish once flushed
    std::vector<std::function<void()>> room_waiters ABSL_GUARDED_BY(mu);
    size_t max_messages = 0, max_bytes = 0;
    static constexpr int kMaxBatchEvents = 256;

    void OnChange(const std::string&, std::shared_ptr<const v1::ChangeEvent> c) override {
      if (AppendToQueued(*c)) return;
      v1::WatchResponse r;
      *r.add_events() = *c;
      Enqueue(std::move(r));
    }
    // A change that arrives while a write is in flight joins the last
    // response queued behind it (up to kMaxBatchEvents): a watcher that
    // falls behind gets fewer, fuller messages — one gRPC write per batch,
    // not per change. False when there is no such response to join.
    bool AppendToQueued(const v1::ChangeEvent& c) {
      absl::MutexLock l(&mu);
      if (finished || end || queue.size() <= (writing ? 1u : 0u)) return false;
      v1::WatchResponse& last = queue.back();
      if (last.events_size() == 0 || last.events_size() >= kMaxBatchEvents) return false;
      // What the response grows by: the event, its field tag and length.
      size_t event = c.ByteSizeLong();
      size_t bytes = 1 + google::protobuf::io::CodedOutputStream::VarintSize64(event) + event;
      if (queued_bytes + bytes > max_bytes) return false;  // Enqueue ends it
      *last.add_events() = c;
      queued_bytes += bytes;
      return true;
    }
    void OnEnded(const std::string&, absl::Status why) override { End(std::move(why)); }
    bool HasRoom() const override {
      absl::MutexLock l(&const_cast<State*>(this)->mu);
      return RoomLocked();
    }
    void OnRoom(std::function<void()> fn) override {
      {
        absl::MutexLock l(&mu);
        if (!RoomLocked() && !finished) {
          room_waiters.push_back(std::move(fn));
          return;
        }
      }
      fn();
    }
    bool RoomLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return queued_bytes < std::max<size_t>(1, max_bytes / 4) &&
             queue.size() < std::max<size_t>(1, max_messages / 4);
    }
    void End(absl::Status why) {
      Action a;
      {
        absl::MutexLock l(&mu);
        if (!end) end = std::move(why);
        a = Pump();
      }
      a.Run();
    }
    void Enqueue(v1::WatchResponse r) {
      Action a;
      {
        absl::MutexLock l(&mu);
        if (finished || end) return;
        size_t bytes = r.ByteSizeLong();
        if (queue.size() >= max_messages || queued_bytes + bytes > max_bytes) {
          end = absl::ResourceExhaustedError(
              "the watcher is not reading fast enough: its queue of unsent changes is full");
          // What is queued but not being written is dropped: end at once.
          while (queue.size() > (writing ? 1u : 0u)) {
            queued_bytes -= queue.back().ByteSizeLong();
            queue.pop_back();
          }
        } else {
          queued_bytes += bytes;
          queue.push_back(std::move(r));
        }
        a = Pump();
      }
      a.Run();
    }
    // The next write, or the finish once everything queued is written.
    Action Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      Action a;
      a.reactor = reactor;
      if (reactor == nullptr || finished || writing) return a;
      if (!queue.empty()) {
        writing = true;
        a.write = &queue.front();
      } else if (end) {
        finished = true;
        a.finish = end->ok() ? grpc::Status::OK : ToGrpc(reactor->ctx_, *end);
      }
      return a;
    }
    void WriteDone(bool ok) {
      std::vector<std::function<void()>> wake;
      Action a;
      {
        absl::MutexLock l(&mu);
        writing = false;
        queued_bytes -= queue.front().ByteSizeLong();
        queue.pop_front();
        if (!ok) {
          if (!end) end = absl::CancelledError("the watcher went away");
          queue.clear();
          queued_bytes = 0;
        }
        if (RoomLocked()) wake.swap(room_waiters);
        a = Pump();
      }
      a.Run();
      for (auto& fn : wake) fn();
    }
  };

  WatchReactor(Ctx* ctx, WatchApi* watch, size_t max_messages, size_t max_bytes)
      : ctx_(ctx), watch_(watch), state_(std::make_shared<State>()) {
    absl::MutexLock l(&state_->mu);
    state_->reactor = this;
    state_->max_messages = max_messages;
    state_->max_bytes = max_bytes;
  }

  void Start(const Caller& caller, const v1::WatchRequest& req) {
    std::shared_ptr<State> state = state_;
    WatchApi* watch = watch_;
    watch_->Watch(caller, req, state, [this, state, watch](absl::StatusOr<WatchStarted> r) {
      if (!r.ok()) return state->End(r.status());
      bool gone;
      {
        absl::MutexLock l(&state->mu);
        gone = state->reactor == nullptr;  // the call is over: nobody watches
        if (!gone) watch_id_ = r->watch_id;
      }
      if (gone) return watch->Unwatch(r->watch_id);
      v1::WatchResponse first;
      first.set_seq(r->seq);
      state->Enqueue(std::move(first));
    });
  }
  void Refuse(const absl::Status& s) { state_->End(s); }

  void OnWriteDone(bool ok) override { state_->WriteDone(ok); }
  void OnCancel() override { state_->End(absl::CancelledError("the watcher cancelled")); }
  void OnDone() override {
    std::string id;
    {
      absl::MutexLock l(&state_->mu);
      state_->reactor = nullptr;
      state_->finished = true;
      state_->room_waiters.clear();
      id = watch_id_;
    }
    if (!id.empty()) watch_->Unwatch(id);
    delete this;
  }

 private:
  Ctx* ctx_;
  WatchApi* watch_;
  std::shared_ptr<State> state_;
  std::string watch_id_;  // guarded by state_->mu
};

class WatchGrpc final : public v1::Watch::CallbackService {
 public:
  WatchGrpc(WatchApi* watch, const Authenticator* auth, size_t max_messages, size_t max_bytes)
      : watch_(watch), auth_(auth), max_messages_(max_messages), max_bytes_(max_bytes) {}
  grpc::ServerWriteReactor<v1::WatchResponse>* Watch(Ctx* ctx, const v1::WatchRequest* req) override {
    auto* reactor = new WatchReactor(ctx, watch_, max_messages_, max_bytes_);
    Caller caller;
    absl::Status s = Admit(ctx, auth_, Method::kWatch, &caller);
    if (!s.ok()) {
      reactor->Refuse(s);
    } else {
      reactor->Start(caller, *req);
    }
    return reactor;
  }

 private:
  WatchApi* watch_;
  const Authenticator* auth_;
  size_t max_messages_, max_bytes_;
};

// One Snapshot call: the backup, then its chunks one write at a time. As
// for watches, gRPC is called with the state's lock released.
class SnapshotReactor final : public grpc::ServerWriteReactor<v1::SnapshotChunk> {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;

  explicit SnapshotReactor(Ctx* ctx) : ctx_(ctx), state_(std::make_shared<State>()) {
    absl::MutexLock l(&state_->mu);
    state_->reactor = this;
  }

  void Start(MaintenanceApi* maintenance, const Caller& caller) {
    std::shared_ptr<State> state = state_;
    maintenance->Snapshot(caller, [state](absl::StatusOr<std::string> image) {
      Step step;
      {
        absl::MutexLock l(&state->mu);
        if (state->reactor == nullptr || state->finished) return;
        if (!image.ok()) {
          state->finished = true;
          step.reactor = state->reactor;
          step.finish = ToGrpc(state->reactor->ctx_, image.status());
        } else {
          unsigned char md[SHA256_DIGEST_LENGTH];
          SHA256(reinterpret_cast<const unsigned char*>(image->data()), image->size(), md);
          state->sha256 =
              absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), sizeof(md)));
          state->image = std::move(*image);
          state->ready = true;
          step = Next(*state);
        }
      }
      step.Run();
    });
  }
  void Refuse(const absl::Status& s) {
    {
      absl::MutexLock l(&state_->mu);
      state_->finished = true;
    }
    Finish(ToGrpc(ctx_, s));
  }

  void OnWriteDone(bool ok) override {
    Step step;
    {
      absl::MutexLock l(&state_->mu);
      if (ok) {
        step = Next(*state_);
      } else if (!state_->finished) {
        state_->finished = true;
        step.reactor = this;
        step.finish = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      }
    }
    step.Run();
  }
  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock l(&state_->mu);
      // Before the backup is ready there is no write to fail: finish now.
      finish = !state_->finished && !state_->ready;
      if (finish) state_->finished = true;
    }
    if (finish) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
  void OnDone() override {
    {
      absl::MutexLock l(&state_->mu);
      state_->reactor = nullptr;
    }
    delete this;
  }

 private:
  struct State {
    absl::Mutex mu;
    SnapshotReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    std::string image ABSL_GUARDED_BY(mu);
    std::string sha256 ABSL_GUARDED_BY(mu);
    bool ready ABSL_GUARDED_BY(mu) = false;
    size_t offset ABSL_GUARDED_BY(mu) = 0;
    bool sent_last ABSL_GUARDED_BY(mu) = false;
    bool finished ABSL_GUARDED_BY(mu) = false;
    v1::SnapshotChunk chunk ABSL_GUARDED_BY(mu);  // the one being written
  };
  struct Step {
    SnapshotReactor* reactor = nullptr;
    const v1::SnapshotChunk* write = nullptr;
    std::optional<grpc::Status> finish;
    void Run() {
      if (write != nullptr) reactor->StartWrite(write);
      if (finish) reactor->Finish(*finish);
    }
  };

  // The next chunk, or the finish after the last.
  static Step Next(State& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    Step step;
    step.reactor = s.reactor;
    if (s.finished || s.reactor == nullptr) return step;
    if (s.sent_last) {
      s.finished = true;
      step.finish = grpc::Status::OK;
      return step;
    }
    size_t n = std::min(kChunkBytes, s.image.size() - s.offset);
    s.chunk.Clear();
    s.chunk.set_data(s.image.substr(s.offset, n));
    s.chunk.set_offset(s.offset);
    s.chunk.set_total_size(s.image.size());
    s.offset += n;
    if (s.offset >= s.image.size()) {
      s.chunk.set_sha256(s.sha256);
      s.sent_last = true;
    }
    step.write = &s.chunk;
    return step;
  }

  Ctx* ctx_;
  std::shared_ptr<State> state_;
};

class MaintenanceGrpc final : public v1::Maintenance::CallbackService {
 public:
  MaintenanceGrpc(MaintenanceApi* maintenance, const Authenticator* auth)
      : maintenance_(maintenance), auth_(auth) {}
  grpc::ServerWriteReactor<v1::SnapshotChunk>* Snapshot(Ctx* ctx, const v1::SnapshotRequest*) override {
    auto* reactor = new SnapshotReactor(ctx);
    Caller caller;
    absl::Status s = Admit(ctx, auth_, Method::kSnapshot, &caller);
    if (!s.ok()) {
      reactor->Refuse(s);
    } else {
      reactor->Start(maintenance_, caller);
    }
    return reactor;
  }

 private:
  MaintenanceApi* maintenance_;
  const Authenticator* auth_;
};

}  // namespace

class GrpcServer::Impl {
 public:
  Impl(Options options, Api api, const Authenticator* auth)
      : options_(options),
        kv_(api.kv, auth),
        cluster_(api.cluster, auth),
        changes_(api.changes, auth),
        watch_(api.watch, auth, options.watch_queue_messages, options.watch_queue_bytes),
        maintenance_(api.maintenance, auth) {}

  absl::Status Start() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(static_cast<int>(options_.limits.max_body_bytes));
    // Connections handed over but idle this long are closed.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, options_.idle_timeout_ms);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 256);
    // Keepalive: a watcher whose peer vanished is found within ~40 s, and
    // clients may ping every 10 s (tools/client does, to find a dead
    // server under a long watch).
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30 * 1000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10 * 1000);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
    for (grpc::Service* s : std::initializer_list<grpc::Service*>{&kv_, &cluster_, &changes_, &watch_,
                                                                  &maintenance_}) {
      builder.RegisterService(s);
    }
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) return absl::InternalError("cannot start the gRPC server");
    return absl::OkStatus();
  }

  void AddConnection(int fd) {
    if (server_ == nullptr) {
      shutdown(fd, SHUT_RDWR);  // ends the connection for every duplicate
      close(fd);
      return;
    }
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }

  void Stop(int grace_ms) {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
    server_->Wait();
    server_.reset();
  }

 private:
  Options options_;
  KvGrpc kv_;
  ClusterGrpc cluster_;
  ChangesGrpc changes_;
  WatchGrpc watch_;
  MaintenanceGrpc maintenance_;
  std::unique_ptr<grpc::Server> server_;
};

GrpcServer::GrpcServer(Options options, Api api, const Authenticator* auth)
    : impl_(std::make_unique<Impl>(options, api, auth)) {}

GrpcServer::~GrpcServer() { Stop(0); }

absl::Status GrpcServer::Start() { return impl_->Start(); }
void GrpcServer::AddConnection(int fd) { impl_->AddConnection(fd); }
void GrpcServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }

}  // namespace concordance::gateway
