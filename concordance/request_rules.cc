#include "concordance/request_rules.h"

#include "absl/strings/str_cat.h"
#include "gateway/json.h"

namespace concordance {

absl::Status ValidateNamespaceAndKey(const std::string& ns, const std::string& key,
                                     const storage::Limits& limits) {
  absl::Status s = storage::ValidateNamespace(ns, limits);
  if (!s.ok()) return s;
  return storage::ValidateKey(key, limits);
}

absl::StatusOr<std::string> ValidateValue(const std::string& json, const storage::Limits& limits) {
  if (json.empty()) return absl::InvalidArgumentError("\"value\" is required (any JSON value)");
  // Measured before parsing, so an oversized value costs nothing more.
  absl::Status s = storage::ValidateValueSize(json, limits);
  if (!s.ok()) return s;
  absl::StatusOr<rapidjson::Document> doc = gateway::ParseJson(json);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("\"value\" is not JSON: ", doc.status().message()));
  }
  std::string compact = gateway::Serialize(*doc);
  s = storage::ValidateValueSize(compact, limits);
  if (!s.ok()) return s;
  return compact;
}

absl::Status ValidateExpectedVersion(const std::optional<int64_t>& expected) {
  if (expected && *expected < 0) {
    return absl::InvalidArgumentError("\"expectedVersion\" must be >= 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ResolveExpiry(const std::optional<int64_t>& ttl_ms,
                                      const std::optional<int64_t>& expires_at, int64_t now_ms) {
  // Bounded so that now + ttlMs and every later comparison stay in int64.
  constexpr int64_t kMaxTtlMs = int64_t{100} * 365 * 24 * 3600 * 1000;  // 100 years
  constexpr int64_t kMaxExpiresAt = 253402300799999;  // 9999-12-31T23:59:59.999Z
  if (ttl_ms && (*ttl_ms <= 0 || *ttl_ms > kMaxTtlMs)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"ttlMs\" must be between 1 and ", kMaxTtlMs, " (100 years)"));
  }
  if (expires_at && (*expires_at <= 0 || *expires_at > kMaxExpiresAt)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"expiresAt\" must be a Unix time in ms between 1 and ", kMaxExpiresAt));
  }
  if (ttl_ms && expires_at) {
    return absl::InvalidArgumentError("give either \"ttlMs\" or \"expiresAt\", not both");
  }
  if (ttl_ms) return now_ms + *ttl_ms;
  if (expires_at) {
    if (*expires_at <= now_ms) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expiresAt ", *expires_at, " is not in the future (now is ", now_ms, ")"));
    }
    return *expires_at;
  }
  return int64_t{0};
}

absl::StatusOr<int> PageRows(const std::optional<int64_t>& limit) {
  int64_t v = limit.value_or(kDefaultPageRows);
  if (v < 1 || v > kMaxPageRows) {
    return absl::InvalidArgumentError(absl::StrCat("limit must be between 1 and ", kMaxPageRows));
  }
  return static_cast<int>(v);
}

absl::StatusOr<ReadOptions> ResolveReadOptions(v1::Consistency consistency, int64_t min_seq) {
  if (!v1::Consistency_IsValid(consistency)) {
    return absl::InvalidArgumentError("consistency must be \"local\" or \"linearizable\"");
  }
  if (min_seq < 0) return absl::InvalidArgumentError("minSeq must be >= 0");
  ReadOptions r;
  r.linearizable = consistency == v1::LINEARIZABLE;
  if (min_seq > 0) r.min_seq = min_seq;
  return r;
}

absl::StatusOr<storage::ChangeFilter> ResolveTarget(bool has_tenant, const std::string& tenant,
                                                   bool has_ns, const std::string& ns,
                                                   const storage::Limits& limits) {
  if (has_tenant == has_ns) {
    return absl::InvalidArgumentError("give exactly one of tenant or namespace");
  }
  storage::ChangeFilter filter;
  if (has_ns) {
    absl::Status s = storage::ValidateNamespace(ns, limits);
    if (!s.ok()) return s;
    filter.tenant_id = *storage::ExtractTenantId(ns);
    filter.namespace_ = ns;
  } else {
    absl::Status s = storage::ValidateTenantId(tenant);
    if (!s.ok()) return s;
    filter.tenant_id = tenant;
  }
  return filter;
}

}  // namespace concordance
