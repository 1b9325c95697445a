// Encryption at rest for credentials (design.md §9): values in namespaces
// whose scope path starts with the segment `credentials`
// (`tenant:{id}/credentials`, `tenant:{id}/credentials/...`) are encrypted
// with AES-256-GCM (OpenSSL EVP) before they are proposed, so raft.db,
// state.db, the changelog and snapshots never hold their plaintext.
//
// The stored value is a JSON envelope that names its key:
//   {"$enc":"aes-256-gcm","kid":"k1","iv":"<base64, 12 bytes>",
//    "ct":"<base64 of ciphertext followed by the 16-byte tag>"}
// with the namespace and key as additional authenticated data, so an
// envelope copied under another key does not decrypt.
//
// Keys come from a file, one per line, `keyId:<64 hex chars>` (blank lines
// and lines starting with '#' ignored). The first key encrypts new writes;
// every listed key decrypts — rotate by putting a new key first and keeping
// the old ones until their values have been rewritten.
//
// Thread-safe (immutable after construction).
#ifndef CONCORDANCE_STORAGE_CRYPTO_H_
#define CONCORDANCE_STORAGE_CRYPTO_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace concordance::storage {

class CredentialCipher {
 public:
  static absl::StatusOr<std::unique_ptr<CredentialCipher>> FromKeyFile(const std::string& path);
  // `keys`: (key id, 32 raw bytes), the first one active.
  static absl::StatusOr<std::unique_ptr<CredentialCipher>> FromKeys(
      const std::vector<std::pair<std::string, std::string>>& keys);

  // Whether values in namespace `ns` are encrypted at rest.
  static bool Applies(absl::string_view ns);
  // Whether a stored value is an envelope.
  static bool IsEnvelope(absl::string_view stored_json);

  // The envelope (JSON text) of a plaintext JSON value.
  absl::StatusOr<std::string> Seal(absl::string_view ns, absl::string_view key,
                                   absl::string_view plaintext_json) const;
  // The plaintext JSON of an envelope. FailedPrecondition when its key id
  // is not configured; DataLoss when it does not authenticate.
  absl::StatusOr<std::string> Open(absl::string_view ns, absl::string_view key,
                                   absl::string_view envelope_json) const;

  const std::string& active_key_id() const { return active_; }

 private:
  CredentialCipher() = default;
  std::string active_;
  std::map<std::string, std::string> keys_;  // id -> 32 bytes
};

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_CRYPTO_H_
