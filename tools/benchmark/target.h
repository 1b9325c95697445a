// What a load generator drives: one connection's worth of requests to a
// server, over one protocol. Each Target is used by one thread at a time
// unless it says otherwise.
#ifndef CONCORDANCE_TOOLS_BENCHMARK_TARGET_H_
#define CONCORDANCE_TOOLS_BENCHMARK_TARGET_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace concordance::benchmark {

class Target {
 public:
  virtual ~Target() = default;
  // Writes `value_json` at key `key` of the target namespace; OK only for
  // an acknowledged write.
  virtual absl::Status Put(const std::string& key, const std::string& value_json) = 0;
};

struct TargetOptions {
  std::string endpoint;  // host:port
  std::string api_key;   // "" = none
  std::string ns;        // namespace written to
  std::chrono::milliseconds timeout{10000};
};

// gRPC through tools/client, on a TCP connection of its own. Thread-safe:
// several threads may share one (HTTP/2 multiplexes their calls).
absl::StatusOr<std::unique_ptr<Target>> GrpcTarget(const TargetOptions& options);
// REST over one keep-alive HTTP/1.1 connection (Beast).
absl::StatusOr<std::unique_ptr<Target>> HttpTarget(const TargetOptions& options);

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_TARGET_H_
