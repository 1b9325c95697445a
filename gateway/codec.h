// The JSON wire of REST and /stream, translated to and from the generated
// concordance.v1 messages (design.md §5, §6, §12). Translation only: member
// types are checked here (a number where a string belongs is a 400), but
// every rule about what a request may ask — namespaces, limits, TTL
// bounds, versions, page sizes — is the service's (gateway/api.h), so a
// request means the same on every front-end.
#ifndef CONCORDANCE_GATEWAY_CODEC_H_
#define CONCORDANCE_GATEWAY_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "gateway/api.h"
#include "gateway/json.h"
#include "proto/concordance/v1/cluster.pb.h"
#include "proto/concordance/v1/kv.pb.h"
#include "proto/concordance/v1/watch.pb.h"

namespace concordance::gateway {

// The members of a write, `{"value", "expectedVersion"?, "ttlMs"?,
// "expiresAt"?}`, into a PutRequest or a batch's SetOp; `value` (any JSON)
// becomes its compact text, left empty when absent.
absl::Status DecodeWrite(const rapidjson::Value& obj, v1::PutRequest* out);
absl::Status DecodeWrite(const rapidjson::Value& obj, v1::SetOp* out);
// `{"ops":[{"op":"set"|"delete","namespace","key",...}, ...]}`.
absl::Status DecodeBatch(const rapidjson::Value& body, v1::BatchRequest* out);
// "local" (or empty) / "linearizable".
absl::StatusOr<v1::Consistency> DecodeConsistency(absl::string_view s);
// A string member: absent -> *out untouched; not a string -> InvalidArgument.
absl::Status ReadString(const rapidjson::Value& obj, const char* name, std::string* out);

std::string EntryJson(const v1::Entry& e);
std::string PutResponseJson(const v1::PutResponse& r);
std::string DeleteResponseJson(const v1::DeleteResponse& r);
std::string ListJson(const v1::ListResponse& r);
std::string BatchJson(const v1::BatchResponse& r);
std::string ChangesJson(const v1::ChangesResponse& r);
std::string StatusJson(const v1::StatusResponse& s);
std::string WatchStartedJson(const WatchStarted& w);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_CODEC_H_
