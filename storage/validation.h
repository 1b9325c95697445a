// The rules every namespace, key and value obeys (design.md §4, §12), and the
// size limits. Each check returns a Status whose message a user can act on:
// InvalidArgument for a malformed input, ResourceExhausted for one over a
// limit (the gateway turns these into 400 / 413 and JSON-RPC -32602).
#ifndef CONCORDANCE_STORAGE_VALIDATION_H_
#define CONCORDANCE_STORAGE_VALIDATION_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace concordance::storage {

// Size limits, all in bytes except max_batch_ops. Defaults are design.md §4.
struct Limits {
  size_t max_value_bytes = 1 << 20;             // serialized JSON of a value
  size_t max_body_bytes = (3 << 20) / 2;        // whole HTTP request body
  size_t max_namespace_bytes = 256;
  size_t max_key_bytes = 512;
  size_t max_batch_ops = 128;
  size_t max_ws_message_bytes = (3 << 20) / 2;  // one WebSocket message
};

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// `tenant:{tenantId}/{segment}[/{segment}...]`: tenant id and every segment
// non-empty, valid UTF-8, free of control characters; at most
// limits.max_namespace_bytes bytes.
absl::Status ValidateNamespace(absl::string_view ns, const Limits& limits);

// The tenant id of a namespace, or InvalidArgument if `ns` is not one.
absl::StatusOr<std::string> ExtractTenantId(absl::string_view ns);

// A tenant id on its own (as in `changes?tenant=`): non-empty, no '/',
// valid UTF-8, no control characters.
absl::Status ValidateTenantId(absl::string_view tenant_id);

// A key: one non-empty string of valid UTF-8 without control characters, at
// most limits.max_key_bytes bytes. It may contain '/'.
absl::Status ValidateKey(absl::string_view key, const Limits& limits);

// The serialized JSON text of a value, already known to be valid JSON: at
// most limits.max_value_bytes bytes.
absl::Status ValidateValueSize(absl::string_view json_text,
                               const Limits& limits);

// A batch's op count: 1..limits.max_batch_ops.
absl::Status ValidateBatchSize(size_t ops, const Limits& limits);

// A node id: 1-64 characters of [A-Za-z0-9._-] (it appears in URLs, logs,
// metric labels and file contents, so nothing else is allowed).
absl::Status ValidateNodeId(absl::string_view id);

// A member's address, host:port: the host a DNS name (letters, digits, '-'
// and '.'), an IPv4 address or a bracketed IPv6 address; the port 1-65535.
// At most 261 bytes; no spaces, control characters or anything else.
absl::Status ValidateAddress(absl::string_view address);

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_VALIDATION_H_
