// RestHandler: the REST API of design.md §5 over plain request/response
// structs (the Beast server feeds it; tests call it directly). A table of
// routes {HTTP method, path, API method, handler}: each handler translates
// the request to a concordance.v1 message (gateway/codec.h), calls one API
// method (gateway/api.h) and encodes the answer. The order of answers is
// §13's: authentication and role (the API method's access, before the body
// is even parsed), then request validity, then leadership, then state.
#ifndef CONCORDANCE_GATEWAY_REST_HANDLER_H_
#define CONCORDANCE_GATEWAY_REST_HANDLER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gateway/api.h"
#include "gateway/auth.h"
#include "storage/validation.h"
#include "util/metrics.h"

namespace concordance::gateway {

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, as sent
  std::string authorization;
  std::optional<std::string> actor;  // X-Concordance-Actor
  std::string body;
  // Fired if the client goes away while the request waits (may be null).
  std::shared_ptr<Cancellation> cancel;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class RestHandler {
 public:
  struct Options {
    storage::Limits limits;  // the body limit is checked here
    std::string scheme = "http";  // of redirects to the leader ("https" with TLS)
  };
  RestHandler(Api api, const Authenticator* auth, Options options, metrics::Registry* metrics);

  // Serves one request; `done` is called exactly once, maybe on another
  // thread.
  void Handle(HttpRequest req, std::function<void(HttpResponse)> done);

  // A JSON error response for `s`; `target` is the request's, for the
  // Location of a redirect to the leader.
  // A 307 (not the leader) gets Location: <scheme>://<leader><target>.
  static HttpResponse Error(const absl::Status& s, absl::string_view target = "",
                            absl::string_view scheme = "http");

 private:
  using Done = std::function<void(HttpResponse)>;
  // What a handler gets: the request, its decoded path and query, and who
  // is asking.
  struct Call {
    HttpRequest& http;
    std::map<std::string, std::string> query;
    std::string ns, key;  // of a /kv/ path
    Caller caller;
  };
  using Handler = void (RestHandler::*)(Call& call, Done done);
  struct Route;
  static const std::vector<Route>& Routes();

  void Dispatch(HttpRequest& req, const std::string& path,
                std::map<std::string, std::string> query, Done done, std::string* label);

  void Health(Call& c, Done done);
  void Ready(Call& c, Done done);
  void Metrics(Call& c, Done done);
  void KvGet(Call& c, Done done);
  void KvPut(Call& c, Done done);
  void KvDelete(Call& c, Done done);
  void KvList(Call& c, Done done);
  void Batch(Call& c, Done done);
  void Changes(Call& c, Done done);
  void ClusterStatus(Call& c, Done done);
  void ClusterJoin(Call& c, Done done);
  void ClusterRemove(Call& c, Done done);
  void ClusterTransfer(Call& c, Done done);
  void Snapshot(Call& c, Done done);

  // The series for one route, method and status code, looked up in the
  // registry once (not per request). Routes, methods and codes are finite.
  struct RouteSeries {
    metrics::Counter* requests;
    metrics::Histogram* seconds;
  };
  RouteSeries SeriesFor(const std::string& route, const std::string& method, int code);

  Api api_;
  const Authenticator* auth_;
  Options options_;
  metrics::Registry* metrics_;
  absl::Mutex series_mu_;
  absl::flat_hash_map<std::string, RouteSeries> series_ ABSL_GUARDED_BY(series_mu_);
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_REST_HANDLER_H_
