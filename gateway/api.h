// The node's API as every front-end calls it (design.md §13): REST, /stream
// JSON-RPC and gRPC all translate their wire to the generated
// concordance.v1 messages and call one of these interfaces, split by
// concern like the gRPC services. concordance/ implements them, and every
// semantic and access check happens there, once — namespace, key and value
// rules and limits, TTL bounds, expected versions, tenant-or-namespace,
// page caps, roles.
//
// Every operation is asynchronous: `done` is called exactly once, possibly
// before the call returns, possibly on another thread (the Raft loop's or a
// worker's); callers that need a particular thread post from it.
//
// Errors are absl::Status with these meanings (gateway/status_map.h turns
// them into HTTP statuses, JSON-RPC codes and gRPC codes; payload keys are
// in util/status_payloads.h):
//   InvalidArgument     a malformed request (bad namespace, empty key, ...)
//   ResourceExhausted   a request over a size limit
//   Unauthenticated     no key, or an unknown one
//   PermissionDenied    the key may not do this (the agent key writing)
//   NotFound            no such key
//   Aborted             version conflict; payload kCurrentVersionPayload
//                       (and kOpIndexPayload in a batch)
//   FailedPrecondition  the node cannot serve this as configured (e.g. a
//                       credentials write with no encryption key)
//   OutOfRange          changes compacted; payload kOldestSeqPayload
//   Unavailable         no quorum, proposal timed out, not ready, removed;
//                       payload kLeaderIdPayload/kLeaderAddressPayload when
//                       another node leads (the request should go there)
#ifndef CONCORDANCE_GATEWAY_API_H_
#define CONCORDANCE_GATEWAY_API_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/auth.h"
#include "gateway/cancellation.h"
#include "proto/concordance/v1/cluster.pb.h"
#include "proto/concordance/v1/kv.pb.h"
#include "proto/concordance/v1/types.pb.h"
#include "proto/concordance/v1/watch.pb.h"

namespace concordance::gateway {

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

// Who is asking: what the key presented allows (kNone without a valid
// key), and the writer identity recorded as updated_by/actor.
struct Caller {
  Access access = Access::kNone;
  bool key_presented = false;  // a key was sent (an unknown one, if kNone)
  std::string actor;
};

// Every operation of the API, and the access it needs (design.md §7).
enum class Method {
  kGet, kList, kPut, kDelete, kBatch,       // KV
  kChanges, kWatch,                         // Changes, Watch
  kStatus, kJoin, kRemove, kTransferLeadership,  // Cluster
  kSnapshot, kMetrics,                      // Maintenance
};
Access RequiredAccess(Method m);
// Unauthenticated (no key) or PermissionDenied (not enough) unless
// `caller` may call `m`. Front-ends call it first too (before decoding a
// body), so that its answer comes before any other (§13's order).
absl::Status Authorize(const Caller& caller, Method m);

class KvApi {
 public:
  virtual ~KvApi() = default;
  virtual void Get(const Caller& caller, const v1::GetRequest& req, Callback<v1::Entry> done) = 0;
  virtual void Put(const Caller& caller, const v1::PutRequest& req,
                   Callback<v1::PutResponse> done) = 0;
  virtual void Delete(const Caller& caller, const v1::DeleteRequest& req,
                      Callback<v1::DeleteResponse> done) = 0;
  virtual void List(const Caller& caller, const v1::ListRequest& req,
                    Callback<v1::ListResponse> done) = 0;
  virtual void Batch(const Caller& caller, const v1::BatchRequest& req,
                     Callback<v1::BatchResponse> done) = 0;
};

class ChangesApi {
 public:
  virtual ~ChangesApi() = default;
  // `cancel` (may be null) fires if the client goes away during a wait.
  virtual void List(const Caller& caller, const v1::ChangesRequest& req,
                    std::shared_ptr<Cancellation> cancel, Callback<v1::ChangesResponse> done) = 0;
};

// Receives one watch's changes, in seq order, each once. Called from one
// thread at a time.
class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  virtual void OnChange(const std::string& watch_id,
                        std::shared_ptr<const v1::ChangeEvent> change) = 0;
  // The watch ended on the node's side (e.g. its history was compacted, or
  // the node was removed); no more changes follow.
  virtual void OnEnded(const std::string& watch_id, absl::Status why) = 0;
  // Flow control for replays of history: while HasRoom() is false the node
  // reads no further page of the changelog for this sink, and OnRoom(fn)
  // calls fn once (on any thread) as soon as there is room again — at once
  // if there is now. Live changes are not held back (a sink that cannot
  // keep up with them ends its watches itself).
  virtual bool HasRoom() const { return true; }
  virtual void OnRoom(std::function<void()> fn) { fn(); }
};

struct WatchStarted {
  std::string watch_id;
  int64_t seq = 0;  // changes after this seq will be delivered
};

class WatchApi {
 public:
  virtual ~WatchApi() = default;
  // `done` gets the start (before any change reaches `sink`); then the
  // sink gets the replay (with from_seq) and the live changes.
  virtual void Watch(const Caller& caller, const v1::WatchRequest& req,
                     std::shared_ptr<ChangeSink> sink, Callback<WatchStarted> done) = 0;
  virtual void Unwatch(const std::string& watch_id) = 0;
};

class ClusterApi {
 public:
  virtual ~ClusterApi() = default;
  // With the state hash (computed off the serving threads, once per
  // applied index); applied_index is the index the hash is of.
  virtual void Status(const Caller& caller, Callback<v1::StatusResponse> done) = 0;
  // This node's view without the hash, for anyone (health pages).
  virtual v1::StatusResponse LocalStatus() = 0;
  // Ready when a leader is known and this node has applied up to it;
  // otherwise false with the reason in *why.
  virtual bool Ready(std::string* why) = 0;
  virtual void Join(const Caller& caller, const v1::JoinRequest& req,
                    Callback<v1::StatusResponse> done) = 0;
  virtual void Remove(const Caller& caller, const v1::RemoveRequest& req,
                      Callback<v1::StatusResponse> done) = 0;
  virtual void TransferLeadership(const Caller& caller, const v1::TransferLeadershipRequest& req,
                                  Callback<v1::StatusResponse> done) = 0;
};

class MaintenanceApi {
 public:
  virtual ~MaintenanceApi() = default;
  // A consistent copy of state.db (a backup).
  virtual void Snapshot(const Caller& caller, Callback<std::string> done) = 0;
  // The Prometheus text of /metrics.
  virtual absl::StatusOr<std::string> Metrics(const Caller& caller) = 0;
};

// The whole API, as the front-ends are given it. Not owned.
struct Api {
  KvApi* kv = nullptr;
  ChangesApi* changes = nullptr;
  WatchApi* watch = nullptr;
  ClusterApi* cluster = nullptr;
  MaintenanceApi* maintenance = nullptr;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_API_H_
