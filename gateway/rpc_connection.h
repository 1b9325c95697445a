// RpcConnection: the JSON-RPC 2.0 state of one /stream WebSocket (design.md
// §6): request dispatch, batches, notifications, and the connection's watch
// subscriptions. It knows nothing of sockets: the WebSocket session feeds it
// messages and gives it functions to send text and to close.
//
// Threading: OnText/OnBinary/Closed are called on the session's strand, one
// at a time. Responses and watch notifications are produced on any thread
// and handed to Hooks::send, which must be thread-safe.
#ifndef CONCORDANCE_GATEWAY_RPC_CONNECTION_H_
#define CONCORDANCE_GATEWAY_RPC_CONNECTION_H_

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gateway/auth.h"
#include "gateway/backend.h"
#include "gateway/json.h"
#include "util/metrics.h"

namespace concordance::gateway {

class RpcConnection : public std::enable_shared_from_this<RpcConnection> {
 public:
  struct Hooks {
    std::function<void(std::string)> send;
    // Called when the number of requests in flight drops back below the
    // limit, so a paused reader may resume.
    std::function<void()> resume;
    // Flow control for watch replays (gateway::ChangeSink::HasRoom/OnRoom):
    // whether the connection's unsent output is small enough for another
    // page of history, and a call-back for when it is again.
    std::function<bool()> has_room;
    std::function<void(std::function<void()>)> on_room;
  };
  struct Options {
    int max_in_flight = 64;         // requests awaiting an answer
    int max_subscriptions = 256;    // per connection
    size_t max_batch_requests = 128;  // elements of a JSON-RPC batch
  };

  RpcConnection(Backend* backend, Access access, std::string actor, Options options,
                Hooks hooks, metrics::Registry* metrics);

  void OnText(const std::string& message);
  void OnBinary();
  // The socket is gone: end every subscription.
  void Closed();

  // True while fewer than max_in_flight requests are outstanding.
  bool CanRead() const { return in_flight_.load() < options_.max_in_flight; }

 private:
  class Sink;
  using Respond = std::function<void(std::string)>;  // "" = no response
  // Dispatches one request object; calls `respond` exactly once.
  // `check_utf8`: the message had strings that are not valid UTF-8; a
  // request carrying one is refused (-32602, or -32600 in its envelope).
  void Dispatch(const rapidjson::Value& req, bool check_utf8, Respond respond);
  void Call(const std::string& method, const rapidjson::Value& params,
            std::function<void(absl::StatusOr<std::string>)> done);
  void Finished();

  Backend* backend_;
  Access access_;
  std::string actor_;
  Options options_;
  Hooks hooks_;
  metrics::Registry* metrics_;
  std::atomic<int> in_flight_{0};
  absl::Mutex mu_;
  std::set<std::string> subscriptions_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// A JSON-RPC error response; `id_json` is the serialized id ("null" if
// unknown). Data carries the wire code and the status payload details.
std::string RpcError(const std::string& id_json, int code, const absl::Status& s);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_RPC_CONNECTION_H_
