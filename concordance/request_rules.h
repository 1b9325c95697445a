// The rules a concordance.v1 request obeys (design.md §4, §5, §12, §13),
// written once for every front-end: each check returns a Status whose
// message a user can act on — InvalidArgument for a malformed request,
// ResourceExhausted for one over a limit. The services call them after the
// access check and before anything else.
#ifndef CONCORDANCE_CONCORDANCE_REQUEST_RULES_H_
#define CONCORDANCE_CONCORDANCE_REQUEST_RULES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/concordance/v1/kv.pb.h"
#include "proto/concordance/v1/watch.pb.h"
#include "storage/kv_store.h"
#include "storage/validation.h"

namespace concordance {

// Rows of a list or changes page: 1..kMaxPageRows, kDefaultPageRows when
// not given.
inline constexpr int kMaxPageRows = 1000;
inline constexpr int kDefaultPageRows = 100;
// The longest long-poll (wait_ms is capped at it).
inline constexpr int64_t kMaxWaitMs = 60000;

absl::Status ValidateNamespaceAndKey(const std::string& ns, const std::string& key,
                                     const storage::Limits& limits);

// A value's JSON text: present, valid JSON (UTF-8, depth), within
// limits.max_value_bytes. Returns its compact form, which is stored.
absl::StatusOr<std::string> ValidateValue(const std::string& json, const storage::Limits& limits);

// expected_version: >= 0 (0 = create only) when given.
absl::Status ValidateExpectedVersion(const std::optional<int64_t>& expected);

// The expiry a write asks for: ttl_ms (1 ms .. 100 years) or expires_at
// (a Unix time in ms, in the future, before year 10000), not both. 0 = none.
absl::StatusOr<int64_t> ResolveExpiry(const std::optional<int64_t>& ttl_ms,
                                      const std::optional<int64_t>& expires_at, int64_t now_ms);

// The rows of a page.
absl::StatusOr<int> PageRows(const std::optional<int64_t>& limit);

// How a read waits before it is served.
struct ReadOptions {
  bool linearizable = false;       // a ReadIndex round first
  std::optional<int64_t> min_seq;  // wait until this seq is applied here
};
absl::StatusOr<ReadOptions> ResolveReadOptions(v1::Consistency consistency, int64_t min_seq);

// The changelog rows a changes read or a watch covers: one tenant, or one
// namespace (of its tenant). `tenant`/`ns` are the request's oneof.
absl::StatusOr<storage::ChangeFilter> ResolveTarget(bool has_tenant, const std::string& tenant,
                                                   bool has_ns, const std::string& ns,
                                                   const storage::Limits& limits);

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_REQUEST_RULES_H_
