// Request decoding and response encoding shared by REST and JSON-RPC: the
// same JSON shapes travel in HTTP bodies and in JSON-RPC params/results.
#ifndef CONCORDANCE_GATEWAY_CODEC_H_
#define CONCORDANCE_GATEWAY_CODEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/backend.h"
#include "gateway/json.h"

namespace concordance::gateway {

// A set body: `{"value", "expectedVersion"?, "ttlMs"?, "expiresAt"?}` into
// `out` (namespace and key untouched). `value` is required.
absl::Status ParseSetBody(const rapidjson::Value& obj, SetRequest* out);
// `[{"op":"set"|"delete","namespace","key","value"?,...}, ...]`.
absl::StatusOr<std::vector<BatchOp>> ParseBatchOps(const rapidjson::Value& ops);
// consistency=local|linearizable plus minSeq.
// The page size of a list or changes request: 100 when absent, else it must
// be within [1, max_page] (checked before narrowing to int).
constexpr int kMaxPageLimit = 1000;
absl::StatusOr<int> ParsePageLimit(std::optional<int64_t> limit, int max_page = kMaxPageLimit);

absl::StatusOr<ReadOptions> ParseReadOptions(absl::string_view consistency,
                                             std::optional<int64_t> min_seq);
// A required string member.
absl::StatusOr<std::string> RequiredString(const rapidjson::Value& obj, const char* name);

std::string SetResultJson(const SetResult& r);
std::string DeleteResultJson(const DeleteResult& r);
std::string EntryJson(const v1::Entry& e);
std::string ListJson(const ListResult& r);
std::string BatchResultJson(const BatchResult& r);
std::string ChangesJson(const ChangesResult& r);
std::string ClusterStatusJson(const ClusterStatus& s);
std::string SubscribeResultJson(const SubscribeResult& r);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_CODEC_H_
