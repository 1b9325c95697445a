#include "gateway/status_map.h"

#include "util/status_payloads.h"

namespace concordance::gateway {

WireError ToWire(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return {400, "invalid_argument", kRpcInvalidParams};
    case absl::StatusCode::kUnauthenticated:
      return {401, "unauthorized", kRpcUnauthorized};
    case absl::StatusCode::kPermissionDenied:
      return {403, "forbidden", kRpcUnauthorized};
    case absl::StatusCode::kNotFound:
      return {404, "not_found", kRpcNotFound};
    case absl::StatusCode::kAborted:
      return {409, "version_conflict", kRpcVersionConflict};
    case absl::StatusCode::kFailedPrecondition:
      return {400, "failed_precondition", kRpcInvalidParams};
    case absl::StatusCode::kAlreadyExists:
      return {409, "already_exists", kRpcInvalidParams};
    case absl::StatusCode::kOutOfRange:
      return {410, "compacted", kRpcCompacted};
    case absl::StatusCode::kResourceExhausted:
      return {413, "too_large", kRpcInvalidParams};
    case absl::StatusCode::kUnavailable:
      if (s.GetPayload(kLeaderIdPayload).has_value()) {
        return {307, "not_leader", kRpcNotLeader};
      }
      return {503, "unavailable", kRpcUnavailable};
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return {503, "unavailable", kRpcUnavailable};
    case absl::StatusCode::kUnimplemented:
      return {501, "unimplemented", kRpcMethodNotFound};
    default:
      return {500, "internal", kRpcInternal};
  }
}

}  // namespace concordance::gateway
