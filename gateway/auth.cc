#include "gateway/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/validation.h"

namespace concordance::gateway {

absl::StatusOr<std::string> ResolveActor(const std::optional<std::string>& header,
                                         Access access) {
  constexpr size_t kMaxActorBytes = 256;
  if (!header) return std::string(Authenticator::RoleName(access));
  if (header->empty() || header->size() > kMaxActorBytes || !storage::IsValidUtf8(*header)) {
    return absl::InvalidArgumentError("X-Concordance-Actor must be 1-256 bytes of UTF-8");
  }
  for (unsigned char c : *header) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("X-Concordance-Actor must not contain control characters");
    }
  }
  if (absl::StartsWithIgnoreCase(*header, kReservedActorPrefix)) {
    return absl::InvalidArgumentError(
        "X-Concordance-Actor must not start with \"system:\": that prefix is reserved for the "
        "server's own writes (system:ttl, system:retention)");
  }
  return *header;
}

absl::string_view BearerToken(absl::string_view authorization) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.size() < 7 || !absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    return "";
  }
  return absl::StripAsciiWhitespace(authorization.substr(7));
}

std::string Authenticator::Digest(absl::string_view s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof(md));
}

bool Authenticator::Matches(absl::string_view presented, const std::string& key_digest) {
  std::string d = Digest(presented);
  return CRYPTO_memcmp(d.data(), key_digest.data(), d.size()) == 0;
}

Authenticator::Authenticator(Keys keys)
    : open_(keys.api.empty() && keys.agent.empty() && keys.peer.empty()),
      has_api_(!keys.api.empty()),
      has_agent_(!keys.agent.empty()) {
  if (keys.peer.empty()) keys.peer = keys.api;
  has_peer_ = !keys.peer.empty();
  api_digest_ = Digest(keys.api);
  agent_digest_ = Digest(keys.agent);
  peer_digest_ = Digest(keys.peer);
}

Access Authenticator::Authenticate(absl::string_view authorization) const {
  if (open_) return Access::kWrite;
  absl::string_view token = BearerToken(authorization);
  if (token.empty()) return Access::kNone;
  // Both comparisons always run: timing does not tell which key matched.
  bool api = has_api_ && Matches(token, api_digest_);
  bool agent = has_agent_ && Matches(token, agent_digest_);
  if (api) return Access::kWrite;
  if (agent) return Access::kRead;
  return Access::kNone;
}

absl::Status CheckKeyConfiguration(const Keys& keys, const std::string& listen, bool loopback) {
  bool none = keys.api.empty() && keys.agent.empty() && keys.peer.empty();
  if (none) {
    if (!loopback) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to listen on ", listen, " without keys: set --api-key-file (or "
          "CONCORDANCE_API_KEY) and --peer-key-file, or listen on a loopback address"));
    }
    return absl::OkStatus();
  }
  if (keys.api.empty() && keys.peer.empty()) {
    return absl::FailedPreconditionError(
        "--agent-key is set without --api-key or --peer-key: /raft would have no key and "
        "no one could write or manage the cluster; set --api-key-file (and --peer-key-file)");
  }
  if (keys.api.empty() && keys.agent.empty()) {
    return absl::FailedPreconditionError(
        "--peer-key is set without --api-key or --agent-key: clients would have no key to "
        "use; set --api-key-file (or run with no keys at all on loopback)");
  }
  std::string peer = keys.peer.empty() ? keys.api : keys.peer;
  if (peer == keys.agent || (!keys.api.empty() && keys.api == keys.agent)) {
    return absl::FailedPreconditionError(
        "the agent (read-only) key must differ from the API key and the peer key");
  }
  return absl::OkStatus();
}

absl::Status Authenticator::Check(absl::string_view authorization, Access needed) const {
  Access got = Authenticate(authorization);
  if (got == Access::kNone) {
    return absl::UnauthenticatedError(
        BearerToken(authorization).empty()
            ? "missing API key: send Authorization: Bearer <key>"
            : "invalid API key");
  }
  if (needed == Access::kWrite && got != Access::kWrite) {
    return absl::PermissionDeniedError("this key is read-only");
  }
  return absl::OkStatus();
}

bool Authenticator::IsPeer(absl::string_view authorization) const {
  if (open_) return true;
  if (!has_peer_) return false;  // keys configured but none for peers: no one
  absl::string_view token = BearerToken(authorization);
  return !token.empty() && Matches(token, peer_digest_);
}

}  // namespace concordance::gateway
