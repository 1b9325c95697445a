// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status-returning code, the way
// Abseil-based projects write them (absl does not ship them publicly).
#ifndef CONCORDANCE_UTIL_STATUS_MACROS_H_
#define CONCORDANCE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CONCORDANCE_CONCAT_INNER(a, b) a##b
#define CONCORDANCE_CONCAT(a, b) CONCORDANCE_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status _status_to_return = (expr);         \
    if (!_status_to_return.ok()) return _status_to_return; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CONCORDANCE_CONCAT(_status_or_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                          \
  if (!statusor.ok()) return statusor.status();    \
  lhs = std::move(*statusor)

#endif  // CONCORDANCE_UTIL_STATUS_MACROS_H_
