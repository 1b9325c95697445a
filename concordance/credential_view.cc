#include "concordance/credential_view.h"

#include "absl/strings/str_cat.h"

namespace concordance {

absl::StatusOr<std::string> CredentialView::Seal(const std::string& ns, const std::string& key,
                                                 const std::string& value_json) const {
  if (!storage::CredentialCipher::Applies(ns)) return value_json;
  if (cipher_ == nullptr) {
    return absl::FailedPreconditionError(
        "values in credentials namespaces are encrypted at rest, and this node has no key: "
        "start it with --encryption-key-file");
  }
  return cipher_->Seal(ns, key, value_json);
}

absl::Status CredentialView::Open(const std::string& ns, const std::string& key,
                                  std::string* value) const {
  if (!storage::CredentialCipher::Applies(ns) || !storage::CredentialCipher::IsEnvelope(*value)) {
    return absl::OkStatus();
  }
  if (cipher_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the value of ", key, " is encrypted and this node has no --encryption-key-file"));
  }
  absl::StatusOr<std::string> plain = cipher_->Open(ns, key, *value);
  if (!plain.ok()) return plain.status();
  *value = std::move(*plain);
  return absl::OkStatus();
}

bool CredentialView::Open(v1::Entry* e) const {
  absl::Status s = Open(e->namespace_(), e->key(), e->mutable_value());
  if (s.ok()) return true;
  e->set_value("null");
  e->set_error(std::string(s.message()));
  return false;
}

bool CredentialView::Open(v1::ChangeEvent* c) const {
  if (c->op() != "set") return true;
  absl::Status s = Open(c->namespace_(), c->key(), c->mutable_value());
  if (s.ok()) return true;
  c->set_value("null");
  c->set_error(std::string(s.message()));
  return false;
}

}  // namespace concordance
