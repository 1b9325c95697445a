#include "tools/client/client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "util/status_payloads.h"

namespace concordance::client {
namespace {

using Clock = std::chrono::steady_clock;

// The REST code string of a server's answer (absent: a transport failure).
constexpr char kErrorCodePayload[] = "concordance/errorCode";

constexpr std::chrono::milliseconds kFirstBackoff{25};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
constexpr std::chrono::milliseconds kMinAttempt{50};
constexpr int kMaxRedirects = 3;  // in a row without a pause (views may be stale)

std::string TrailerValue(const grpc::ClientContext& ctx, const char* name) {
  const auto& md = ctx.GetServerTrailingMetadata();
  auto it = md.find(name);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

void CopyIntTrailer(const grpc::ClientContext& ctx, const char* name, const char* payload,
                    absl::Status* s) {
  int64_t v;
  std::string text = TrailerValue(ctx, name);
  if (!text.empty() && absl::SimpleAtoi(text, &v)) SetIntPayload(*s, payload, v);
}

// The call's outcome as an absl::Status carrying the §13 details.
absl::Status FromGrpc(const grpc::Status& g, const grpc::ClientContext& ctx) {
  if (g.ok()) return absl::OkStatus();
  absl::Status s(static_cast<absl::StatusCode>(g.error_code()), g.error_message());
  std::string code = TrailerValue(ctx, "concordance-error-code");
  if (!code.empty()) s.SetPayload(kErrorCodePayload, absl::Cord(code));
  std::string leader_id = TrailerValue(ctx, "concordance-leader-id");
  if (!leader_id.empty()) {
    s.SetPayload(kLeaderIdPayload, absl::Cord(leader_id));
    s.SetPayload(kLeaderAddressPayload, absl::Cord(TrailerValue(ctx, "concordance-leader-address")));
  }
  CopyIntTrailer(ctx, "concordance-current-version", kCurrentVersionPayload, &s);
  CopyIntTrailer(ctx, "concordance-op-index", kOpIndexPayload, &s);
  CopyIntTrailer(ctx, "concordance-oldest-seq", kOldestSeqPayload, &s);
  if (TrailerValue(ctx, "concordance-indeterminate") == "true") {
    s.SetPayload(kIndeterminatePayload, absl::Cord("true"));
  }
  return s;
}

absl::Status MarkIndeterminate(absl::Status s) {
  absl::Status out(s.code(), absl::StrCat(s.message(), " (the write may or may not have been applied)"));
  s.ForEachPayload([&](absl::string_view key, const absl::Cord& v) { out.SetPayload(key, v); });
  out.SetPayload(kIndeterminatePayload, absl::Cord("true"));
  return out;
}

// A failure of the connection, not an answer of the server.
bool TransportFailure(const absl::Status& s) {
  return ErrorCode(s).empty() &&
         (s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kDeadlineExceeded);
}

// Sleeps a jittered `*backoff` (doubling it) unless that passes `deadline`.
bool Backoff(std::chrono::milliseconds* backoff, Clock::time_point deadline) {
  thread_local std::minstd_rand rng(std::random_device{}());
  auto pause = *backoff / 2 + std::chrono::milliseconds(rng() % (backoff->count() / 2 + 1));
  if (Clock::now() + pause >= deadline) return false;
  std::this_thread::sleep_for(pause);
  *backoff = std::min(*backoff * 2, kMaxBackoff);
  return true;
}

}  // namespace

std::string ErrorCode(const absl::Status& s) { return TextPayload(s, kErrorCodePayload).value_or(""); }
std::optional<int64_t> CurrentVersion(const absl::Status& s) { return IntPayload(s, kCurrentVersionPayload); }
std::optional<int64_t> OpIndex(const absl::Status& s) { return IntPayload(s, kOpIndexPayload); }
std::optional<int64_t> OldestSeq(const absl::Status& s) { return IntPayload(s, kOldestSeqPayload); }
std::string LeaderAddress(const absl::Status& s) {
  return TextPayload(s, kLeaderAddressPayload).value_or("");
}
bool Indeterminate(const absl::Status& s) { return s.GetPayload(kIndeterminatePayload).has_value(); }

struct Client::Node {
  std::string endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KV::Stub> kv;
  std::unique_ptr<v1::Changes::Stub> changes;
  std::unique_ptr<v1::Watch::Stub> watch;
  std::unique_ptr<v1::Cluster::Stub> cluster;
  std::unique_ptr<v1::Maintenance::Stub> maintenance;
};

Client::Client(Options options) : options_(std::move(options)) {
  preferred_ = options_.endpoints.empty() ? "127.0.0.1:4100" : options_.endpoints.front();
}

Client::~Client() = default;

std::string Client::preferred_endpoint() const {
  absl::MutexLock l(&mu_);
  return preferred_;
}

std::shared_ptr<Client::Node> Client::NodeFor(const std::string& endpoint) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Node>& node = nodes_[endpoint];
  if (node) return node;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Find a dead server under a long watch (the server allows pings every 10 s).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10 * 1000);
  // Keep pinging a quiet watch (gRPC stops after two pings without data).
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  if (options_.private_connections) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto creds = options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials();
  node = std::make_shared<Node>();
  node->endpoint = endpoint;
  node->channel = grpc::CreateCustomChannel(endpoint, creds, args);
  node->kv = v1::KV::NewStub(node->channel);
  node->changes = v1::Changes::NewStub(node->channel);
  node->watch = v1::Watch::NewStub(node->channel);
  node->cluster = v1::Cluster::NewStub(node->channel);
  node->maintenance = v1::Maintenance::NewStub(node->channel);
  return node;
}

std::shared_ptr<Client::Node> Client::Preferred() { return NodeFor(preferred_endpoint()); }

void Client::MoveOn(const std::string& endpoint, const std::string& next) {
  absl::MutexLock l(&mu_);
  if (preferred_ != endpoint) return;  // another call moved on already
  if (!next.empty()) {
    preferred_ = next;
    return;
  }
  preferred_ = EndpointAfter(endpoint);
}

std::string Client::EndpointAfter(const std::string& endpoint) const {
  const std::vector<std::string>& list = options_.endpoints;
  if (list.empty()) return endpoint;
  auto it = std::find(list.begin(), list.end(), endpoint);
  return it == list.end() ? list.front() : list[(it - list.begin() + 1) % list.size()];
}

std::unique_ptr<grpc::ClientContext> Client::NewContext(std::chrono::milliseconds timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!options_.key.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.key);
  if (!options_.actor.empty()) ctx->AddMetadata("x-concordance-actor", options_.actor);
  if (timeout.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

// What to do after a failed attempt (see the file comment of client.h).
Client::Next Client::AfterFailure(Kind kind, const std::string& endpoint, absl::Status* s) {
  std::string code = ErrorCode(*s);
  if (code == "not_leader" && LeaderAddress(*s) != endpoint) {
    MoveOn(endpoint, LeaderAddress(*s));
    return LeaderAddress(*s).empty() ? Next::kRetry : Next::kRedirect;
  }
  if (code == "unavailable" && !Indeterminate(*s)) {
    MoveOn(endpoint, "");  // not applied (no leader yet, shutting down…)
    return Next::kRetry;
  }
  if (!code.empty()) return Next::kAnswer;  // not found, conflict, bad request, …
  // gRPC's own status: the server's service never answered.
  if (kind == Kind::kWrite) {
    // Refused by gRPC before the service (too large, unknown method): not
    // applied. Anything else may have arrived.
    if (s->code() == absl::StatusCode::kResourceExhausted ||
        s->code() == absl::StatusCode::kUnimplemented) {
      return Next::kAnswer;
    }
    *s = MarkIndeterminate(*s);
    return Next::kAnswer;
  }
  if (!TransportFailure(*s)) return Next::kAnswer;
  MoveOn(endpoint, "");
  return Next::kRetry;
}

absl::Status Client::Call(Kind kind, const Attempt& attempt, std::chrono::milliseconds wait) {
  const Clock::time_point deadline = Clock::now() + options_.retry_for + wait;
  std::chrono::milliseconds backoff = kFirstBackoff;
  int redirects = 0;
  absl::Status s;
  for (bool first = true;; first = false) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // A retry needs time to be worth sending: a write sent with a sliver of
    // a deadline would only come back with an unknown outcome.
    if (!first && left < kMinAttempt) return s;
    auto timeout = first ? options_.attempt_timeout + wait : std::min(options_.attempt_timeout + wait, left);
    std::shared_ptr<Node> node = Preferred();
    if (kind == Kind::kWrite &&
        !node->channel->WaitForConnected(std::chrono::system_clock::now() + timeout)) {
      // Nothing was sent: trying the next node is safe.
      s = absl::UnavailableError(absl::StrCat("cannot connect to ", node->endpoint));
      MoveOn(node->endpoint, "");
    } else {
      auto ctx = NewContext(timeout);
      s = FromGrpc(attempt(*node, ctx.get()), *ctx);
      if (s.ok()) return s;
      Next next = AfterFailure(kind, node->endpoint, &s);
      if (next == Next::kAnswer) return s;
      if (next == Next::kRedirect && ++redirects <= kMaxRedirects) continue;  // straight to the leader
    }
    if (!Backoff(&backoff, deadline)) return s;
  }
}

template <typename Response, typename Rpc>
absl::StatusOr<Response> Client::Unary(Kind kind, Rpc rpc, std::chrono::milliseconds wait) {
  Response out;
  absl::Status s = Call(kind, [&](Node& n, grpc::ClientContext* c) { return rpc(n, c, &out); }, wait);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<v1::Entry> Client::Get(const v1::GetRequest& req) {
  return Unary<v1::Entry>(Kind::kRead, [&](Node& n, auto* c, auto* out) { return n.kv->Get(c, req, out); });
}

absl::StatusOr<v1::ListResponse> Client::List(const v1::ListRequest& req) {
  return Unary<v1::ListResponse>(Kind::kRead,
                                 [&](Node& n, auto* c, auto* out) { return n.kv->List(c, req, out); });
}

absl::StatusOr<v1::PutResponse> Client::Put(const v1::PutRequest& req) {
  return Unary<v1::PutResponse>(Kind::kWrite,
                                [&](Node& n, auto* c, auto* out) { return n.kv->Put(c, req, out); });
}

absl::StatusOr<v1::DeleteResponse> Client::Delete(const v1::DeleteRequest& req) {
  return Unary<v1::DeleteResponse>(Kind::kWrite,
                                   [&](Node& n, auto* c, auto* out) { return n.kv->Delete(c, req, out); });
}

absl::StatusOr<v1::BatchResponse> Client::Batch(const v1::BatchRequest& req) {
  return Unary<v1::BatchResponse>(Kind::kWrite,
                                  [&](Node& n, auto* c, auto* out) { return n.kv->Batch(c, req, out); });
}

absl::StatusOr<v1::ChangesResponse> Client::Changes(const v1::ChangesRequest& req) {
  // A long-poll may hold the call for wait_ms (the server caps it at 60 s).
  auto wait = std::chrono::milliseconds(std::clamp<int64_t>(req.wait_ms(), 0, 60000));
  return Unary<v1::ChangesResponse>(
      Kind::kRead, [&](Node& n, auto* c, auto* out) { return n.changes->List(c, req, out); }, wait);
}

absl::StatusOr<v1::StatusResponse> Client::Status(const std::string& endpoint) {
  if (endpoint.empty()) {
    return Unary<v1::StatusResponse>(Kind::kRead, [&](Node& n, auto* c, auto* out) {
      return n.cluster->Status(c, v1::StatusRequest(), out);
    });
  }
  v1::StatusResponse out;
  auto ctx = NewContext(options_.attempt_timeout);
  absl::Status s = FromGrpc(NodeFor(endpoint)->cluster->Status(ctx.get(), v1::StatusRequest(), &out), *ctx);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<v1::StatusResponse> Client::Join(const v1::JoinRequest& req) {
  return Unary<v1::StatusResponse>(Kind::kWrite,
                                   [&](Node& n, auto* c, auto* out) { return n.cluster->Join(c, req, out); });
}

absl::StatusOr<v1::StatusResponse> Client::Remove(const v1::RemoveRequest& req) {
  return Unary<v1::StatusResponse>(Kind::kWrite,
                                   [&](Node& n, auto* c, auto* out) { return n.cluster->Remove(c, req, out); });
}

absl::StatusOr<v1::StatusResponse> Client::TransferLeadership(const v1::TransferLeadershipRequest& req) {
  return Unary<v1::StatusResponse>(Kind::kWrite, [&](Node& n, auto* c, auto* out) {
    return n.cluster->TransferLeadership(c, req, out);
  });
}

absl::StatusOr<SnapshotInfo> Client::Snapshot(std::ostream* out,
                                              std::function<void(uint64_t, uint64_t)> progress) {
  std::shared_ptr<Node> node = Preferred();
  auto ctx = NewContext(std::max(options_.attempt_timeout, std::chrono::milliseconds(10 * 60 * 1000)));
  auto reader = node->maintenance->Snapshot(ctx.get(), v1::SnapshotRequest());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  SnapshotInfo info;
  std::string server_sha;
  uint64_t total = 0;
  v1::SnapshotChunk chunk;
  absl::Status order;
  while (order.ok() && reader->Read(&chunk)) {
    if (chunk.offset() != info.size) {
      order = absl::DataLossError(absl::StrCat("chunk at offset ", chunk.offset(), " after ", info.size, " bytes"));
      ctx->TryCancel();
      break;
    }
    total = chunk.total_size();
    out->write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    EVP_DigestUpdate(sha.get(), chunk.data().data(), chunk.data().size());
    info.size += chunk.data().size();
    if (!chunk.sha256().empty()) server_sha = chunk.sha256();
    if (progress) progress(info.size, total);
  }
  absl::Status s = FromGrpc(reader->Finish(), *ctx);
  if (!order.ok()) return order;
  if (!s.ok()) return s;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(sha.get(), md, &md_len);
  info.sha256 = absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), md_len));
  if (info.size != total || info.sha256 != server_sha) {
    return absl::DataLossError(absl::StrCat("the backup arrived damaged: ", info.size, " of ", total,
                                            " bytes, sha256 ", info.sha256, " (server: ", server_sha, ")"));
  }
  if (!out->good()) return absl::InternalError("cannot write the backup");
  return info;
}

std::unique_ptr<Watcher> Client::Watch(const v1::WatchRequest& req) {
  return std::unique_ptr<Watcher>(new Watcher(this, req));
}

// ---------------------------------------------------------------------------
// Watcher

Watcher::Watcher(Client* client, v1::WatchRequest req)
    : client_(client), req_(std::move(req)), endpoint_(client->preferred_endpoint()) {}

Watcher::~Watcher() {
  Cancel();
  if (reader_) {
    v1::WatchResponse drain;
    while (reader_->Read(&drain)) {
    }
    reader_->Finish();
  }
}

void Watcher::Cancel() {
  absl::MutexLock l(&mu_);
  cancelled_ = true;
  if (ctx_) ctx_->TryCancel();
}

absl::Status Watcher::Open(bool resume) {
  v1::WatchRequest req = req_;
  if (resume) req.set_from_seq(last_seq_);  // what follows the last delivered
  std::shared_ptr<Client::Node> node = client_->NodeFor(endpoint_);
  reader_.reset();  // before the context it runs under
  {
    absl::MutexLock l(&mu_);
    if (cancelled_) return absl::CancelledError("the watch was cancelled");
    ctx_ = client_->NewContext(std::chrono::milliseconds(0));  // no deadline
  }
  reader_ = node->watch->Watch(ctx_.get(), req);
  if (!resume) return absl::OkStatus();
  v1::WatchResponse start;  // a resumed watch's start is not news
  if (!reader_->Read(&start)) return absl::UnavailableError("the watch ended as it resumed");
  return absl::OkStatus();
}

absl::Status Watcher::Next(v1::WatchResponse* out) {
  std::optional<Clock::time_point> give_up;
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (;;) {
    absl::Status s = reader_ ? absl::OkStatus() : Open(started_);
    if (s.ok() && reader_->Read(out)) {
      if (!started_) {
        started_ = true;
        // A replay delivers the changes after from_seq next: resume from
        // there until one arrives, not from the head the server announced.
        last_seq_ = req_.has_from_seq() ? req_.from_seq() : out->seq();
      } else if (out->events_size() > 0) {
        last_seq_ = out->events(out->events_size() - 1).seq();
      }
      return absl::OkStatus();
    }
    if (reader_) {
      absl::Status finished = FromGrpc(reader_->Finish(), *ctx_);
      if (!finished.ok()) {
        s = finished;
      } else if (s.ok()) {
        s = absl::UnavailableError("the server ended the watch");
      }
      reader_.reset();
    }
    {
      absl::MutexLock l(&mu_);
      if (cancelled_) return absl::CancelledError("the watch was cancelled");
    }
    bool retryable = TransportFailure(s) || (ErrorCode(s) == "unavailable");
    if (!retryable) return s;
    if (!give_up) give_up = Clock::now() + client_->options_.retry_for;
    endpoint_ = client_->EndpointAfter(endpoint_);  // this watch's own choice
    if (!Backoff(&backoff, *give_up)) return s;
  }
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const std::string& ca_file, const std::string& cert_file, const std::string& key_file) {
  auto read = [](const std::string& path, std::string* out) {
    std::ifstream in(path);
    if (!in) return false;
    std::stringstream s;
    s << in.rdbuf();
    *out = s.str();
    return true;
  };
  grpc::SslCredentialsOptions o;
  if (!ca_file.empty() && !read(ca_file, &o.pem_root_certs)) {
    return absl::NotFoundError(absl::StrCat("cannot read the CA file ", ca_file));
  }
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("a client certificate needs its key, and a key its certificate");
  }
  if (!cert_file.empty() &&
      (!read(cert_file, &o.pem_cert_chain) || !read(key_file, &o.pem_private_key))) {
    return absl::NotFoundError(absl::StrCat("cannot read ", cert_file, " or ", key_file));
  }
  return grpc::SslCredentials(o);
}

}  // namespace concordance::client
