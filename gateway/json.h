// JSON on the wire, with RapidJSON: parsing untrusted text safely, and the
// encodings of entries, change events and errors shared by REST and
// JSON-RPC.
#ifndef CONCORDANCE_GATEWAY_JSON_H_
#define CONCORDANCE_GATEWAY_JSON_H_

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/concordance/v1/types.pb.h"

namespace concordance::gateway {

// Deepest nesting of arrays/objects accepted in a request (values included).
inline constexpr int kMaxJsonDepth = 64;

// Parses untrusted JSON: UTF-8 validated, no trailing garbage, nesting at
// most `max_depth` (parsing is iterative, so depth costs no stack), numbers
// beyond double range refused. InvalidArgument with the offset otherwise.
// Every decoded string must be valid UTF-8 too (an escape such as
// "\udc00" is valid JSON but not UTF-8): InvalidArgument otherwise, unless
// `invalid_utf8` is given, in which case such strings are kept and
// *invalid_utf8 says whether there were any (for JSON-RPC, which must still
// read the request's id to answer -32602).
absl::StatusOr<rapidjson::Document> ParseJson(absl::string_view text,
                                              int max_depth = kMaxJsonDepth,
                                              bool* invalid_utf8 = nullptr);
// Whether any member name or string in `v` is not valid UTF-8.
bool HasInvalidUtf8(const rapidjson::Value& v);

// The compact serialized text of a value.
std::string Serialize(const rapidjson::Value& v);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void Key(JsonWriter& w, absl::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
inline void String(JsonWriter& w, absl::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// Writes already-serialized JSON text as a value; empty text (which no
// valid write stores, but a damaged or hostile snapshot image could hold)
// as null, so that an answer is always JSON (found by jsonrpc_fuzzer).
inline void Raw(JsonWriter& w, absl::string_view json) {
  if (json.empty()) {
    w.Null();
    return;
  }
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

// {"namespace","key","value","version","updatedBy","updatedAt","expiresAt"}
void WriteEntry(JsonWriter& w, const v1::Entry& e);
// The watch/change params of seed 004: {"seq","op","namespace","key",
// "value","version","actor","timestamp","tenantId"}, plus "subscriptionId"
// first when given.
void WriteChange(JsonWriter& w, const v1::ChangeEvent& c,
                 absl::string_view subscription_id = "");
// "error": {"code": "undecryptable", "message"} of an entry or change
// whose value this node cannot decrypt (its value is then null).
void WriteEntryError(JsonWriter& w, absl::string_view message);
// `s` made safe to echo or log: invalid UTF-8 bytes and control characters
// become \xHH, the rest is kept.
std::string SafeText(absl::string_view s);
// Extra fields of an error derived from the status payloads:
// currentVersion, opIndex, oldestSeq, leader {nodeId, address}, retryable,
// indeterminate.
void WriteErrorDetails(JsonWriter& w, const absl::Status& s);

// Optional integer/string members with type checking: absent -> nullopt;
// present with the wrong type -> InvalidArgument naming the field.
absl::StatusOr<std::optional<int64_t>> OptionalInt(const rapidjson::Value& obj,
                                                   const char* name);
absl::StatusOr<std::optional<std::string>> OptionalString(
    const rapidjson::Value& obj, const char* name);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_JSON_H_
