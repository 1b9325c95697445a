// What a load generator drives: one connection's worth of requests to a
// server, over one protocol. Each Target is used by one thread at a time
// unless it says otherwise.
//
// Failures keep their meaning across protocols: a CAS mismatch is ABORTED
// (counted as a conflict, not an error), an absent key NOT_FOUND (a read
// that answered), anything else an error.
#ifndef CONCORDANCE_TOOLS_BENCHMARK_TARGET_H_
#define CONCORDANCE_TOOLS_BENCHMARK_TARGET_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace concordance::benchmark {

struct Written {
  int64_t version = 0;
  int64_t seq = 0;  // the changelog seq of the write (0 where unknown: etcd)
};

class Target {
 public:
  virtual ~Target() = default;
  // Writes `value_json` at `key` of the target namespace (`ns`, or the
  // target's own when empty); with `expected_version`, only if the key is
  // at that version (0: absent). OK only for an acknowledged write.
  virtual absl::StatusOr<Written> Put(const std::string& ns, const std::string& key,
                                      const std::string& value_json,
                                      std::optional<int64_t> expected_version) = 0;
  // The key's version (NOT_FOUND when absent).
  virtual absl::StatusOr<int64_t> Get(const std::string& key) = 0;
};

struct TargetOptions {
  std::string endpoint;  // host:port
  std::string api_key;   // "" = none
  std::string ns;        // namespace read and written
  std::chrono::milliseconds timeout{10000};
  std::string tls_ca_file;  // gRPC over TLS, verified with this CA ("" = cleartext)
};

// gRPC through tools/client, on a TCP connection of its own; follows the
// leader, never retries. Thread-safe: several threads may share one
// (HTTP/2 multiplexes their calls).
absl::StatusOr<std::unique_ptr<Target>> GrpcTarget(const TargetOptions& options);
// REST over one keep-alive HTTP/1.1 connection (Beast).
absl::StatusOr<std::unique_ptr<Target>> HttpTarget(const TargetOptions& options);
// JSON-RPC 2.0 on one /stream WebSocket (kv/set, kv/get).
absl::StatusOr<std::unique_ptr<Target>> WebSocketTarget(const TargetOptions& options);
// etcd's JSON gateway (/v3/kv/put, /v3/kv/range) over one keep-alive
// HTTP/1.1 connection; keys are `ns/key`. No CAS (UNIMPLEMENTED).
absl::StatusOr<std::unique_ptr<Target>> EtcdTarget(const TargetOptions& options);

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_TARGET_H_
