// CredentialView: how values in credentials namespaces (design.md §9;
// storage/crypto.h says which) are sealed on their way into a command and
// opened on their way out to a client.
//
// Opening never fails a whole page: an entry or change whose value this
// node cannot decrypt (its key id is not in --encryption-key-file, or the
// envelope does not authenticate) keeps its place with value null and an
// error naming the cause, and the rest of the page is served.
//
// Thread-safe (immutable).
#ifndef CONCORDANCE_CONCORDANCE_CREDENTIAL_VIEW_H_
#define CONCORDANCE_CONCORDANCE_CREDENTIAL_VIEW_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/concordance/v1/types.pb.h"
#include "storage/crypto.h"

namespace concordance {

class CredentialView {
 public:
  // `cipher` may be null (no --encryption-key-file): credentials writes are
  // then refused. Not owned.
  explicit CredentialView(const storage::CredentialCipher* cipher) : cipher_(cipher) {}

  // The value as stored: an envelope in credentials namespaces.
  absl::StatusOr<std::string> Seal(const std::string& ns, const std::string& key,
                                   const std::string& value_json) const;
  // A stored value as clients see it, for a single-entry read: the error
  // when it cannot be decrypted.
  absl::Status Open(const std::string& ns, const std::string& key, std::string* value) const;
  // For pages and notifications: on failure the value becomes "null" and
  // the entry's `error` says why. True when the value is readable.
  bool Open(v1::Entry* entry) const;
  bool Open(v1::ChangeEvent* change) const;

 private:
  const storage::CredentialCipher* cipher_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_CREDENTIAL_VIEW_H_
