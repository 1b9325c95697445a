// Backend: everything the wire adapters (REST, /stream JSON-RPC, /raft) need
// from a Concordance node, as plain C++ types. concordance/ implements it;
// gateway/ knows nothing of Raft or SQLite.
//
// Every operation is asynchronous: it takes a callback that is called
// exactly once, possibly before the call returns, possibly on another thread
// (the Raft loop's). Callers that need a particular thread post from it.
//
// Errors are absl::Status with these meanings (gateway/status_map.h turns
// them into HTTP statuses and JSON-RPC codes; payload keys are in
// util/status_payloads.h):
//   InvalidArgument     a malformed request (bad namespace, empty key, ...)
//   ResourceExhausted   a request over a size limit
//   NotFound            no such key
//   Aborted             version conflict; payload kCurrentVersionPayload
//                       (and kOpIndexPayload in a batch)
//   FailedPrecondition  the node cannot serve this as configured (e.g. a
//                       credentials write with no encryption key)
//   OutOfRange          changes compacted; payload kOldestSeqPayload
//   Unavailable         no quorum, proposal timed out, not ready; payload
//                       kLeaderIdPayload/kLeaderAddressPayload when another
//                       node leads (the request should go there)
//   PermissionDenied    forbidden
#ifndef CONCORDANCE_GATEWAY_BACKEND_H_
#define CONCORDANCE_GATEWAY_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/cancellation.h"
#include "proto/concordance/v1/types.pb.h"
#include "proto/kv.pb.h"
#include "util/status_payloads.h"

namespace concordance::gateway {

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

// The WebSocket close code a node sends to a peer that was removed from the
// cluster (the reason text names the configuration index of the removal).
inline constexpr int kPeerRemovedCloseCode = 4410;


struct ReadOptions {
  bool linearizable = false;       // consistency=linearizable (ReadIndex)
  std::optional<int64_t> min_seq;  // wait until this seq is applied here
};

struct GetRequest {
  std::string ns;
  std::string key;
  ReadOptions read;
};

struct SetRequest {
  std::string ns;
  std::string key;
  std::string value_json;  // serialized JSON
  std::optional<int64_t> expected_version;  // 0 = create only
  std::optional<int64_t> ttl_ms;
  std::optional<int64_t> expires_at;  // Unix ms
};

struct SetResult {
  int64_t version = 0;
  int64_t seq = 0;
  int64_t updated_at = 0;
  int64_t expires_at = 0;  // 0 = none
};

struct DeleteRequest {
  std::string ns;
  std::string key;
  std::optional<int64_t> expected_version;
};

struct DeleteResult {
  int64_t seq = 0;
};

struct ListRequest {
  std::string ns;
  std::string prefix;
  std::string after;
  int limit = 100;
  ReadOptions read;
};

struct ListResult {
  std::vector<v1::Entry> entries;
  std::optional<std::string> next;
};

struct BatchOp {
  bool is_set = true;  // false: delete
  SetRequest set;      // namespace/key/expected_version used by deletes too
};

struct BatchResult {
  struct Op {
    bool is_set = true;
    SetResult set;  // for deletes only seq is meaningful
  };
  std::vector<Op> ops;
};

struct ChangesRequest {
  std::string tenant;  // one of tenant / ns
  std::string ns;
  int64_t since = 0;
  int limit = 100;
  int64_t wait_ms = 0;  // long-poll when nothing is new
  // Fired when the client goes away during the wait (may be null).
  std::shared_ptr<Cancellation> cancel;
};

struct ChangesResult {
  std::vector<v1::ChangeEvent> changes;
  int64_t next_seq = 0;
  int64_t oldest_seq = 0;
};

// Receives a subscription's changes, in seq order, each once. Called from
// any thread, never concurrently for one sink.
class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  virtual void OnChange(const std::string& subscription_id,
                        std::shared_ptr<const v1::ChangeEvent> change) = 0;
  // The subscription ended on the node's side (e.g. it fell too far
  // behind); no more changes follow.
  virtual void OnEnded(const std::string& subscription_id, absl::Status why) = 0;
  // Flow control for replays of history: while HasRoom() is false the node
  // reads no further page of the changelog for this sink, and OnRoom(fn)
  // calls fn once (on any thread) as soon as there is room again — at once
  // if there is now. Live changes are not held back (a sink that cannot
  // keep up with them ends its subscriptions itself).
  virtual bool HasRoom() const { return true; }
  virtual void OnRoom(std::function<void()> fn) { fn(); }
};

struct SubscribeRequest {
  std::string tenant;  // one of tenant / ns
  std::string ns;
  std::optional<int64_t> from_seq;  // replay after this seq, then go live
};

struct SubscribeResult {
  std::string subscription_id;
  int64_t seq = 0;  // changes after this seq will be delivered
};

struct PeerInfo {
  std::string node_id;
  std::string address;
  bool voter = false;
  uint64_t match_index = 0;
  bool reachable = false;
};

struct ClusterStatus {
  std::string node_id;
  std::string role;  // leader | follower | candidate | learner
  std::string leader_id;  // "" when unknown
  std::string leader_address;
  uint64_t term = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  std::string state_hash;
  std::vector<PeerInfo> peers;
  bool removed = false;  // this node was removed from the cluster
};

class Backend {
 public:
  virtual ~Backend() = default;

  // ---- KV ----
  // `actor` is the writer identity recorded as updated_by/actor.
  virtual void Get(const GetRequest& req, Callback<v1::Entry> done) = 0;
  virtual void List(const ListRequest& req, Callback<ListResult> done) = 0;
  virtual void Set(const SetRequest& req, const std::string& actor,
                   Callback<SetResult> done) = 0;
  virtual void Delete(const DeleteRequest& req, const std::string& actor,
                      Callback<DeleteResult> done) = 0;
  virtual void Batch(const std::vector<BatchOp>& ops, const std::string& actor,
                     Callback<BatchResult> done) = 0;
  virtual void Changes(const ChangesRequest& req, Callback<ChangesResult> done) = 0;

  // ---- Watch ----
  virtual void Subscribe(const SubscribeRequest& req,
                         std::shared_ptr<ChangeSink> sink,
                         Callback<SubscribeResult> done) = 0;
  virtual void Unsubscribe(const std::string& subscription_id) = 0;

  // ---- Cluster ----
  // This node's view, without the state hash (cheap, any thread).
  virtual ClusterStatus Status() = 0;
  // The same with `state_hash` and the applied index it was computed at.
  // Hashing reads the whole state off the serving threads; one hash per
  // applied index is computed and shared by every caller.
  virtual void StatusWithHash(Callback<ClusterStatus> done) = 0;
  // Ready when a leader is known and this node has applied up to it;
  // otherwise false with the reason in *why.
  virtual bool Ready(std::string* why) = 0;
  virtual void Join(const std::string& node_id, const std::string& address,
                    Callback<ClusterStatus> done) = 0;
  virtual void Remove(const std::string& node_id, Callback<ClusterStatus> done) = 0;
  virtual void TransferLeadership(const std::string& node_id,
                                  Callback<ClusterStatus> done) = 0;
  // A consistent copy of state.db.
  virtual void Snapshot(Callback<std::string> done) = 0;

  // ---- Observability ----
  virtual std::string MetricsText() = 0;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_BACKEND_H_
