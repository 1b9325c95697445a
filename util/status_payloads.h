// Keys of the absl::Status payloads that carry machine-readable error
// details between layers (values are decimal or plain text). The gateway
// turns them into fields of the wire error (currentVersion, oldestSeq,
// leader...).
#ifndef CONCORDANCE_UTIL_STATUS_PAYLOADS_H_
#define CONCORDANCE_UTIL_STATUS_PAYLOADS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace concordance {

// FailedPrecondition (version conflict): the key's current version.
inline constexpr char kCurrentVersionPayload[] = "concordance/currentVersion";
// In a batch: the index of the op that failed.
inline constexpr char kOpIndexPayload[] = "concordance/opIndex";
// OutOfRange (compacted): the oldest seq still kept.
inline constexpr char kOldestSeqPayload[] = "concordance/oldestSeq";
// Unavailable because another node leads: where to go.
inline constexpr char kLeaderIdPayload[] = "concordance/leaderId";
inline constexpr char kLeaderAddressPayload[] = "concordance/leaderAddress";
// Unavailable for a write that may or may not have been applied.
inline constexpr char kIndeterminatePayload[] = "concordance/indeterminate";
// This node (or the peer asking) was removed from the cluster; the value is
// the index of the configuration entry that removed it.
inline constexpr char kRemovedPayload[] = "concordance/removed";

// ResourceExhausted because the node's disk is nearly full: bytes free.
inline constexpr char kDiskFullPayload[] = "concordance/diskFull";

inline void SetIntPayload(absl::Status& s, const char* key, int64_t v) {
  s.SetPayload(key, absl::Cord(absl::StrCat(v)));
}

inline std::optional<int64_t> IntPayload(const absl::Status& s, const char* key) {
  auto c = s.GetPayload(key);  // absl::optional (not std:: in Debian's Abseil)
  int64_t v;
  if (!c || !absl::SimpleAtoi(std::string(*c), &v)) return std::nullopt;
  return v;
}

inline std::optional<std::string> TextPayload(const absl::Status& s, const char* key) {
  auto c = s.GetPayload(key);  // absl::optional (not std:: in Debian's Abseil)
  if (!c) return std::nullopt;
  return std::string(*c);
}

}  // namespace concordance

#endif  // CONCORDANCE_UTIL_STATUS_PAYLOADS_H_
