// The one table that maps an absl::Status to the wire: HTTP status, the
// REST error code string, the JSON-RPC error code and the gRPC status code
// (design.md §13).
#ifndef CONCORDANCE_GATEWAY_STATUS_MAP_H_
#define CONCORDANCE_GATEWAY_STATUS_MAP_H_

#include <string>

#include "absl/status/status.h"

namespace concordance::gateway {

struct WireError {
  int http_status;
  const char* code;  // "invalid_argument", "not_found", ...
  int rpc_code;      // JSON-RPC error code
  int grpc_code;     // grpc::StatusCode (its numbers are absl's)
};

// JSON-RPC codes (design.md §6).
inline constexpr int kRpcParseError = -32700;
inline constexpr int kRpcInvalidRequest = -32600;
inline constexpr int kRpcMethodNotFound = -32601;
inline constexpr int kRpcInvalidParams = -32602;
inline constexpr int kRpcInternal = -32603;
inline constexpr int kRpcNotLeader = -32001;
inline constexpr int kRpcVersionConflict = -32002;
inline constexpr int kRpcUnauthorized = -32003;
inline constexpr int kRpcNotFound = -32004;
inline constexpr int kRpcUnavailable = -32005;
inline constexpr int kRpcCompacted = -32006;

// The mapping for `s` (which must not be OK). An Unavailable status that
// names a leader maps to 307 "not_leader" / -32001.
WireError ToWire(const absl::Status& s);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_STATUS_MAP_H_
