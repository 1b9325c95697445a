// RpcConnection: the JSON-RPC 2.0 state of one /stream WebSocket (design.md
// §6): request dispatch from a table of {name, API method, handler},
// batches, notifications, and the connection's watches. Each handler
// translates params to a concordance.v1 message (gateway/codec.h), calls one
// API method (gateway/api.h) — which makes every check — and encodes the
// result. It knows nothing of sockets: the WebSocket session feeds it
// messages and gives it functions to send text and to pace replays.
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
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gateway/api.h"
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

  RpcConnection(Api api, Caller caller, Options options, Hooks hooks,
                metrics::Registry* metrics);

  void OnText(const std::string& message);
  void OnBinary();
  // The socket is gone: end every watch.
  void Closed();

  // True while fewer than max_in_flight requests are outstanding.
  bool CanRead() const { return in_flight_.load() < options_.max_in_flight; }

 private:
  class Sink;
  using Respond = std::function<void(std::string)>;  // "" = no response
  using Result = std::function<void(absl::StatusOr<std::string>)>;
  using Handler = void (RpcConnection::*)(const rapidjson::Value& params, Result done);
  struct MethodRow {
    const char* name;
    Method method;  // the API method: its access is checked before params are read
    Handler handler;
  };
  static const std::vector<MethodRow>& Methods();

  // The envelope of one request: id, method name and params.
  struct Envelope {
    std::string id_json = "null";
    bool notification = false;
    std::string method;
    const rapidjson::Value* params = nullptr;
  };
  // Reads the envelope of `req`, or returns the error response to send.
  static std::optional<std::string> ReadEnvelope(const rapidjson::Value& req, bool check_utf8,
                                                 Envelope* out);
  // Dispatches one request object; calls `respond` exactly once.
  // `check_utf8`: the message had strings that are not valid UTF-8.
  void Dispatch(const rapidjson::Value& req, bool check_utf8, Respond respond);
  // Dispatches a batch; one array answers once every member is done.
  void DispatchBatch(const rapidjson::Value& batch, bool check_utf8);
  // The completion of a request: counts it and sends its answer.
  Result Reply(const Envelope& env, const std::string& label, Respond respond);
  void Finished();

  void KvGet(const rapidjson::Value& p, Result done);
  void KvList(const rapidjson::Value& p, Result done);
  void KvSet(const rapidjson::Value& p, Result done);
  void KvDelete(const rapidjson::Value& p, Result done);
  void KvBatch(const rapidjson::Value& p, Result done);
  void Subscribe(const rapidjson::Value& p, Result done);
  void Unsubscribe(const rapidjson::Value& p, Result done);

  Api api_;
  Caller caller_;
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
