// API-key authentication (design.md §7). Two client keys — the API key
// (read/write and cluster management) and the agent key (read-only) — and a
// peer key for /raft (default: the API key). Keys are compared in constant
// time and never logged. With no key at all configured, every caller gets
// full access, /raft included (open mode, loopback only). As soon as any key
// is configured, /raft takes only the peer key.
#ifndef CONCORDANCE_GATEWAY_AUTH_H_
#define CONCORDANCE_GATEWAY_AUTH_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace concordance::gateway {

enum class Access { kNone, kRead, kWrite };

struct Keys {
  std::string api;
  std::string agent;
  std::string peer;  // empty: the API key
};

// The rules a node's keys must satisfy before it starts (docs/security.md):
// open mode (no key at all) only on a loopback address; an agent key needs
// an API key or a peer key (else /raft would have no key); a peer key alone
// leaves clients nothing to use; the agent key differs from the others.
// `listen` is the --listen address, for the message.
absl::Status CheckKeyConfiguration(const Keys& keys, const std::string& listen, bool loopback);

class Authenticator {
 public:
  explicit Authenticator(Keys keys);

  // True when no key at all is configured (open dev mode).
  bool open() const { return open_; }
  // What an `Authorization` header value grants.
  Access Authenticate(absl::string_view authorization) const;
  // OK when `authorization` grants `needed`; Unauthenticated (no or unknown
  // key) or PermissionDenied (read-only key asking to write) otherwise.
  absl::Status Check(absl::string_view authorization, Access needed) const;
  // True when `authorization` carries the peer key, or in open mode.
  bool IsPeer(absl::string_view authorization) const;

  // The writer identity of a key's holder when no actor header is given.
  static const char* RoleName(Access a) { return a == Access::kWrite ? "api" : "agent"; }

 private:
  // Constant-time: compares SHA-256 digests, so length leaks nothing either.
  static bool Matches(absl::string_view presented, const std::string& key_digest);
  static std::string Digest(absl::string_view s);

  bool open_;
  std::string api_digest_, agent_digest_, peer_digest_;
  bool has_api_, has_agent_, has_peer_;
};

// Actors the server writes as itself (the TTL expirer, changelog retention)
// start with this; clients may not claim it.
inline constexpr char kReservedActorPrefix[] = "system:";

// The writer identity for a request: the X-Concordance-Actor header when
// sent (1-256 bytes of UTF-8 without control characters, not starting with
// "system:", else InvalidArgument), else the key's role name.
absl::StatusOr<std::string> ResolveActor(const std::optional<std::string>& header,
                                         Access access);

// The token of "Bearer <token>", or "" when the header has another form.
absl::string_view BearerToken(absl::string_view authorization);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_AUTH_H_
