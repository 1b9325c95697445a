// RestHandler: the REST API of design.md §5 over plain request/response
// structs (the Beast server feeds it; tests call it directly). Each handler
// decodes, checks access, calls one Backend method and encodes.
#ifndef CONCORDANCE_GATEWAY_REST_HANDLER_H_
#define CONCORDANCE_GATEWAY_REST_HANDLER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gateway/auth.h"
#include "gateway/backend.h"
#include "gateway/codec.h"
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
    storage::Limits limits;
    int64_t max_wait_ms = 60000;  // cap on changes?wait=
    int max_page = 1000;          // cap on list/changes limit=
  };
  RestHandler(Backend* backend, const Authenticator* auth, Options options,
              metrics::Registry* metrics);

  // Serves one request; `done` is called exactly once, maybe on another
  // thread.
  void Handle(HttpRequest req, std::function<void(HttpResponse)> done);

  // A JSON error response for `s`.
  static HttpResponse Error(const absl::Status& s, absl::string_view target = "");

 private:
  using Done = std::function<void(HttpResponse)>;
  void Route(HttpRequest& req, const std::string& path,
             const std::map<std::string, std::string>& query, Done done,
             std::string* route);
  void KvGet(const std::string& ns, const std::string& key,
             const std::map<std::string, std::string>& q, Done done);
  void KvList(const std::string& ns, const std::map<std::string, std::string>& q, Done done);
  void KvPut(const std::string& ns, const std::string& key, const HttpRequest& req,
             const std::string& actor, Done done);
  void KvDelete(const std::string& ns, const std::string& key,
                const std::map<std::string, std::string>& q, const std::string& target,
                const std::string& actor, Done done);
  void Batch(const HttpRequest& req, const std::string& actor, Done done);
  void Changes(const std::map<std::string, std::string>& q, std::shared_ptr<Cancellation> cancel,
               Done done);
  void Cluster(const std::string& what, const HttpRequest& req, Done done);

  Backend* backend_;
  const Authenticator* auth_;
  Options options_;
  metrics::Registry* metrics_;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_REST_HANDLER_H_
