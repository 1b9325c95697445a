#include "gateway/status_map.h"

#include "util/status_payloads.h"

namespace concordance::gateway {

WireError ToWire(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return {400, "invalid_argument", kRpcInvalidParams, 3};
    case absl::StatusCode::kUnauthenticated:
      return {401, "unauthorized", kRpcUnauthorized, 16};
    case absl::StatusCode::kPermissionDenied:
      return {403, "forbidden", kRpcUnauthorized, 7};
    case absl::StatusCode::kNotFound:
      return {404, "not_found", kRpcNotFound, 5};
    case absl::StatusCode::kAborted:
      return {409, "version_conflict", kRpcVersionConflict, 10};
    case absl::StatusCode::kFailedPrecondition:
      return {400, "failed_precondition", kRpcInvalidParams, 9};
    case absl::StatusCode::kAlreadyExists:
      return {409, "already_exists", kRpcInvalidParams, 6};
    case absl::StatusCode::kOutOfRange:
      return {410, "compacted", kRpcCompacted, 11};
    case absl::StatusCode::kResourceExhausted:
      if (s.GetPayload(kDiskFullPayload).has_value()) {
        return {507, "disk_full", kRpcUnavailable, 8};  // retryable once space is freed
      }
      return {413, "too_large", kRpcInvalidParams, 3};
    case absl::StatusCode::kUnavailable:
      if (s.GetPayload(kLeaderIdPayload).has_value()) {
        return {307, "not_leader", kRpcNotLeader, 14};
      }
      return {503, "unavailable", kRpcUnavailable, 14};
    case absl::StatusCode::kDeadlineExceeded:
      return {503, "unavailable", kRpcUnavailable, 4};
    case absl::StatusCode::kCancelled:
      return {503, "unavailable", kRpcUnavailable, 1};
    case absl::StatusCode::kUnimplemented:
      return {501, "unimplemented", kRpcMethodNotFound, 12};
    default:
      return {500, "internal", kRpcInternal, 13};
  }
}

}  // namespace concordance::gateway
