#include "storage/crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace concordance::storage {
namespace {

constexpr char kAlgorithm[] = "aes-256-gcm";
constexpr size_t kKeyBytes = 32, kIvBytes = 12, kTagBytes = 16;

std::string Aad(absl::string_view ns, absl::string_view key) {
  return absl::StrCat(ns, std::string(1, '\0'), key);
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

}  // namespace

absl::StatusOr<std::unique_ptr<CredentialCipher>> CredentialCipher::FromKeys(
    const std::vector<std::pair<std::string, std::string>>& keys) {
  if (keys.empty()) return absl::InvalidArgumentError("no encryption keys");
  std::unique_ptr<CredentialCipher> c(new CredentialCipher());
  for (const auto& [id, bytes] : keys) {
    if (id.empty() || bytes.size() != kKeyBytes) {
      return absl::InvalidArgumentError("an encryption key needs an id and 32 bytes");
    }
    if (!c->keys_.emplace(id, bytes).second) {
      return absl::InvalidArgumentError(absl::StrCat("key id ", id, " is listed twice"));
    }
  }
  c->active_ = keys.front().first;
  return c;
}

absl::StatusOr<std::unique_ptr<CredentialCipher>> CredentialCipher::FromKeyFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read encryption key file ", path));
  std::vector<std::pair<std::string, std::string>> keys;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    size_t colon = l.find(':');
    std::string hex = colon == absl::string_view::npos ? "" : std::string(l.substr(colon + 1));
    bool is_hex = hex.size() == 2 * kKeyBytes &&
                  std::all_of(hex.begin(), hex.end(), [](char ch) { return isxdigit(ch); });
    if (colon == 0 || !is_hex) {
      // Never echo the line: it may hold key material.
      return absl::InvalidArgumentError(absl::StrCat(
          path, " line ", n, ": expected keyId:<64 hex characters>"));
    }
    keys.emplace_back(std::string(l.substr(0, colon)), absl::HexStringToBytes(hex));
  }
  return FromKeys(keys);
}

bool CredentialCipher::Applies(absl::string_view ns) {
  size_t slash = ns.find('/');
  if (slash == absl::string_view::npos) return false;
  absl::string_view scope = ns.substr(slash + 1);
  return scope == "credentials" || absl::StartsWith(scope, "credentials/");
}

bool CredentialCipher::IsEnvelope(absl::string_view json) {
  return absl::StartsWith(json, "{\"$enc\":");
}

absl::StatusOr<std::string> CredentialCipher::Seal(absl::string_view ns, absl::string_view key,
                                                   absl::string_view plaintext) const {
  const std::string& k = keys_.at(active_);
  unsigned char iv[kIvBytes];
  if (RAND_bytes(iv, sizeof(iv)) != 1) return absl::InternalError("no randomness for an IV");
  std::string aad = Aad(ns, key);
  std::string out(plaintext.size() + kTagBytes, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0, total = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                                      reinterpret_cast<const unsigned char*>(k.data()), iv) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()), aad.size()) == 1 &&
            EVP_EncryptUpdate(ctx.get(), o, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              plaintext.size()) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), o + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, o + total) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM encryption failed");
  out.resize(total + kTagBytes);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("$enc");
  w.String(kAlgorithm);
  w.Key("kid");
  w.String(active_.data(), active_.size());
  w.Key("iv");
  std::string b64 = absl::Base64Escape(absl::string_view(reinterpret_cast<char*>(iv), kIvBytes));
  w.String(b64.data(), b64.size());
  w.Key("ct");
  b64 = absl::Base64Escape(out);
  w.String(b64.data(), b64.size());
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

absl::StatusOr<std::string> CredentialCipher::Open(absl::string_view ns, absl::string_view key,
                                                   absl::string_view envelope) const {
  rapidjson::Document d;
  d.Parse(envelope.data(), envelope.size());
  auto str = [&](const char* name) -> std::string {
    auto it = d.IsObject() ? d.FindMember(name) : d.MemberEnd();
    if (!d.IsObject() || it == d.MemberEnd() || !it->value.IsString()) return "";
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  std::string iv, ct;
  if (d.HasParseError() || str("$enc") != kAlgorithm || !absl::Base64Unescape(str("iv"), &iv) ||
      !absl::Base64Unescape(str("ct"), &ct) || iv.size() != kIvBytes || ct.size() < kTagBytes) {
    return absl::DataLossError(absl::StrCat("the stored value of ", key, " is not a valid envelope"));
  }
  std::string kid = str("kid");
  auto k = keys_.find(kid);
  if (k == keys_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the value of ", key, " is encrypted with key \"", kid,
        "\", which is not in this node's --encryption-key-file"));
  }
  std::string aad = Aad(ns, key);
  size_t n = ct.size() - kTagBytes;
  std::string out(n, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  auto* c = reinterpret_cast<unsigned char*>(ct.data());
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               reinterpret_cast<const unsigned char*>(k->second.data()),
                               reinterpret_cast<const unsigned char*>(iv.data())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()), aad.size()) == 1 &&
            EVP_DecryptUpdate(ctx.get(), o, &len, c, n) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, c + n) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), o + len, &len) == 1;
  if (!ok) {
    return absl::DataLossError(absl::StrCat(
        "the value of ", key, " does not decrypt with key \"", kid,
        "\": wrong key material, or the value was tampered with"));
  }
  return out;
}

}  // namespace concordance::storage
