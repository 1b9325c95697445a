// URL pieces: percent-decoding and query strings (RFC 3986; '+' is a plain
// character, not a space).
#ifndef CONCORDANCE_GATEWAY_URL_H_
#define CONCORDANCE_GATEWAY_URL_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace concordance::gateway {

// Decodes %XX escapes; InvalidArgument on a malformed escape.
absl::StatusOr<std::string> PercentDecode(absl::string_view s);
// Encodes everything but unreserved characters.
std::string PercentEncode(absl::string_view s);

// Splits "a=1&b=2" (already without '?') into decoded pairs; a repeated name
// keeps its first value.
absl::StatusOr<std::map<std::string, std::string>> ParseQuery(absl::string_view q);

// Splits "host:port" (host may be a bracketed IPv6 literal); InvalidArgument
// on anything else, including a port outside 0-65535.
absl::Status SplitHostPort(const std::string& hostport, std::string* host, uint16_t* port);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_URL_H_
