#include "gateway/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "storage/validation.h"

namespace concordance::gateway {

absl::StatusOr<std::string> ResolveActor(const std::optional<std::string>& header,
                                         Access access) {
  constexpr size_t kMaxActorBytes = 256;
  if (!header) return std::string(Authenticator::RoleName(access));
  if (header->empty() || header->size() > kMaxActorBytes || !storage::IsValidUtf8(*header)) {
    return absl::InvalidArgumentError("X-Concordance-Actor must be 1-256 bytes of UTF-8");
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
    : open_(keys.api.empty() && keys.agent.empty()),
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
  if (!has_peer_) return true;
  absl::string_view token = BearerToken(authorization);
  return !token.empty() && Matches(token, peer_digest_);
}

}  // namespace concordance::gateway
