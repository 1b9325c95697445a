#include "gateway/api.h"

namespace concordance::gateway {

Access RequiredAccess(Method m) {
  switch (m) {
    case Method::kGet:
    case Method::kList:
    case Method::kChanges:
    case Method::kWatch:
    case Method::kStatus:
    case Method::kMetrics:
      return Access::kRead;
    case Method::kPut:
    case Method::kDelete:
    case Method::kBatch:
    case Method::kJoin:
    case Method::kRemove:
    case Method::kTransferLeadership:
    case Method::kSnapshot:  // the whole dataset
      return Access::kWrite;
  }
  return Access::kWrite;
}

absl::Status Authorize(const Caller& caller, Method m) {
  if (caller.access == Access::kNone) {
    return absl::UnauthenticatedError(caller.key_presented
                                          ? "invalid API key"
                                          : "missing API key: send Authorization: Bearer <key>");
  }
  if (RequiredAccess(m) == Access::kWrite && caller.access != Access::kWrite) {
    return absl::PermissionDeniedError("this key is read-only");
  }
  return absl::OkStatus();
}

}  // namespace concordance::gateway
