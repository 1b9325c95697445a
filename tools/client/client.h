// A Concordance client over the generated concordance.v1 gRPC stubs
// (design.md §13). It keeps one channel per node, sends writes and cluster
// changes to the leader (following the concordance-leader-address trailer of
// a not_leader answer), and retries only what is safe:
//
//   - reads (Get, List, Changes, Status): on any unavailable answer or
//     transport failure, on the next endpoint;
//   - writes (Put, Delete, Batch, Join, Remove, TransferLeadership): only when
//     the request provably did not take effect — the node could not be
//     reached before sending, or it answered not_leader, or unavailable
//     without concordance-indeterminate. A write whose outcome is unknown
//     (an indeterminate answer, or any failure that gRPC itself reports
//     after sending — a lost connection, a deadline, a reset stream) is
//     returned as an error for which Indeterminate() is true.
//
// Redirects to a named leader go at once (three in a row at most); other
// retries back off (25 ms doubling to 1 s, jittered) within retry_for. The
// first attempt always has attempt_timeout; a retry needs 50 ms left.
//
// Errors are absl::Status values with the gRPC code and message; the §13
// details ride along as payloads, read with the accessors below. Thread-safe.
#ifndef CONCORDANCE_TOOLS_CLIENT_CLIENT_H_
#define CONCORDANCE_TOOLS_CLIENT_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/concordance/v1/cluster.grpc.pb.h"
#include "proto/concordance/v1/kv.grpc.pb.h"
#include "proto/concordance/v1/maintenance.grpc.pb.h"
#include "proto/concordance/v1/watch.grpc.pb.h"

namespace concordance::client {

struct Options {
  std::vector<std::string> endpoints = {"127.0.0.1:4100"};  // host:port
  std::string key;    // sent as `authorization: Bearer <key>`; "" = none
  std::string actor;  // sent as `x-concordance-actor`; "" = none
  std::chrono::milliseconds attempt_timeout{5000};  // the deadline of one RPC
  std::chrono::milliseconds retry_for{10000};       // retries of one call (0 = none)
  // Default: insecure (plaintext) channels.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Give this client TCP connections of its own instead of sharing them
  // with other clients in the process (load generators).
  bool private_connections = false;
};

// Channel credentials for a TLS port: the server verified against the PEM
// CA bundle `ca_file` ("" = the system's roots), and this client's own
// certificate and key presented when given (mutual TLS). An error names a
// file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const std::string& ca_file, const std::string& cert_file = "", const std::string& key_file = "");

// The §13 details of a failed call ("" / nullopt when absent).
std::string ErrorCode(const absl::Status& s);  // "not_found", "version_conflict", …
std::optional<int64_t> CurrentVersion(const absl::Status& s);
std::optional<int64_t> OpIndex(const absl::Status& s);
std::optional<int64_t> OldestSeq(const absl::Status& s);
std::string LeaderAddress(const absl::Status& s);
// True when a write may or may not have been applied.
bool Indeterminate(const absl::Status& s);

// The result of a snapshot download.
struct SnapshotInfo {
  uint64_t size = 0;
  std::string sha256;  // hex, checked against the server's
};

class Watcher;

class Client {
 public:
  explicit Client(Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<v1::Entry> Get(const v1::GetRequest& req);
  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& req);
  absl::StatusOr<v1::PutResponse> Put(const v1::PutRequest& req);
  absl::StatusOr<v1::DeleteResponse> Delete(const v1::DeleteRequest& req);
  absl::StatusOr<v1::BatchResponse> Batch(const v1::BatchRequest& req);
  absl::StatusOr<v1::ChangesResponse> Changes(const v1::ChangesRequest& req);

  // The status of the node at `endpoint` (no failover: it is that node's
  // own view), or of whichever node answers when `endpoint` is empty.
  absl::StatusOr<v1::StatusResponse> Status(const std::string& endpoint = "");
  absl::StatusOr<v1::StatusResponse> Join(const v1::JoinRequest& req);
  absl::StatusOr<v1::StatusResponse> Remove(const v1::RemoveRequest& req);
  absl::StatusOr<v1::StatusResponse> TransferLeadership(const v1::TransferLeadershipRequest& req);

  // Streams a backup into *out, checking order and the SHA-256 the server
  // sends; `progress(received, total)` after each chunk when given. Not
  // retried (out cannot be rewound).
  absl::StatusOr<SnapshotInfo> Snapshot(std::ostream* out,
                                        std::function<void(uint64_t, uint64_t)> progress = nullptr);

  // A watch that resumes on another node after a failure (from the last seq
  // it delivered, so nothing is lost or repeated). It starts on the
  // preferred endpoint and then moves on by itself, leaving the client's
  // choice for other calls alone.
  std::unique_ptr<Watcher> Watch(const v1::WatchRequest& req);

  // The endpoint calls go to first (the leader, once one has answered).
  std::string preferred_endpoint() const;

 private:
  friend class Watcher;
  struct Node;
  enum class Kind { kRead, kWrite };
  using Attempt = std::function<grpc::Status(Node&, grpc::ClientContext*)>;

  enum class Next { kAnswer, kRedirect, kRetry };

  // Runs `attempt` under the retry policy of `kind` (see the file comment);
  // `wait` is how long the server may hold the call on purpose (a
  // long-poll), added to every deadline.
  absl::Status Call(Kind kind, const Attempt& attempt,
                    std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // After a failed attempt at `endpoint`: return *s (possibly marked
  // indeterminate), go to the leader it named, or retry after a pause.
  Next AfterFailure(Kind kind, const std::string& endpoint, absl::Status* s);
  // Call() for a unary method: `rpc(node, context, &response)`.
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Unary(Kind kind, Rpc rpc,
                                 std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // The endpoint after `endpoint` in the list (the first when it is not
  // in the list).
  std::string EndpointAfter(const std::string& endpoint) const;
  std::unique_ptr<grpc::ClientContext> NewContext(std::chrono::milliseconds timeout) const;
  std::shared_ptr<Node> NodeFor(const std::string& endpoint);
  std::shared_ptr<Node> Preferred();
  // After a failure at `endpoint`: move on to `next`, or to the endpoint
  // after it in the list when `next` is empty.
  void MoveOn(const std::string& endpoint, const std::string& next);

  const Options options_;
  mutable absl::Mutex mu_;
  std::string preferred_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Node>> nodes_ ABSL_GUARDED_BY(mu_);
};

// A running watch. Next() blocks for the next response: the first carries
// the last applied seq (and no events), every later one at least one event,
// in seq order. Cancel() from any thread ends it (Next answers CANCELLED).
// The Client must outlive its Watchers.
//
// A watch of a quiet tenant resumes from the last seq it delivered; if the
// changelog has been trimmed past it meanwhile, Next answers OUT_OF_RANGE
// (compacted) although nothing was missed — start a new watch then.
class Watcher {
 public:
  ~Watcher();
  absl::Status Next(v1::WatchResponse* out);
  void Cancel();
  // The node the watch is on (or will try next). Call from Next's thread.
  const std::string& endpoint() const { return endpoint_; }

 private:
  friend class Client;
  Watcher(Client* client, v1::WatchRequest req);
  absl::Status Open(bool resume) ABSL_LOCKS_EXCLUDED(mu_);

  Client* const client_;
  const v1::WatchRequest req_;
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::ClientContext> ctx_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::ClientReader<v1::WatchResponse>> reader_;
  std::string endpoint_;
  bool started_ = false;  // the first response was delivered
  int64_t last_seq_ = 0;  // the last seq delivered (start seq or event)
};

}  // namespace concordance::client

#endif  // CONCORDANCE_TOOLS_CLIENT_CLIENT_H_
