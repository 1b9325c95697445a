#include "storage/crypto.h"

#include <fstream>

#include "gtest/gtest.h"
#include "storage/test_util.h"

namespace concordance::storage {
namespace {

std::unique_ptr<CredentialCipher> Cipher(std::vector<std::pair<std::string, char>> ids) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (auto& [id, fill] : ids) keys.emplace_back(id, std::string(32, fill));
  return std::move(*CredentialCipher::FromKeys(keys));
}

constexpr char kNs[] = "tenant:acme/credentials";

TEST(CryptoTest, SealOpenRoundTripWithoutPlaintext) {
  auto c = Cipher({{"k1", 'a'}});
  std::string secret = "{\"token\":\"xoxb-very-secret-token\"}";
  auto env = c->Seal(kNs, "slack", secret);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(CredentialCipher::IsEnvelope(*env));
  EXPECT_EQ(env->find("very-secret"), std::string::npos);
  EXPECT_NE(env->find("\"kid\":\"k1\""), std::string::npos);
  EXPECT_EQ(*c->Open(kNs, "slack", *env), secret);
  // Two seals of the same value differ (random IV).
  EXPECT_NE(*c->Seal(kNs, "slack", secret), *env);
}

TEST(CryptoTest, BoundToNamespaceAndKey) {
  auto c = Cipher({{"k1", 'a'}});
  auto env = *c->Seal(kNs, "slack", "1");
  EXPECT_EQ(c->Open(kNs, "github", env).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(c->Open("tenant:other/credentials", "slack", env).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(CryptoTest, RotationKeepsOldValuesReadable) {
  auto old_cipher = Cipher({{"k1", 'a'}});
  auto old_env = *old_cipher->Seal(kNs, "k", "\"old\"");
  auto rotated = Cipher({{"k2", 'b'}, {"k1", 'a'}});
  EXPECT_EQ(rotated->active_key_id(), "k2");
  EXPECT_NE(rotated->Seal(kNs, "k", "1")->find("\"kid\":\"k2\""), std::string::npos);
  EXPECT_EQ(*rotated->Open(kNs, "k", old_env), "\"old\"");
  // Without the old key: a clear error naming it, never garbage.
  auto only_new = Cipher({{"k2", 'b'}});
  absl::Status s = only_new->Open(kNs, "k", old_env).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("\"k1\""), absl::string_view::npos) << s;
  // Same id, wrong material: refused by the tag.
  auto wrong = Cipher({{"k1", 'z'}});
  EXPECT_EQ(wrong->Open(kNs, "k", old_env).status().code(), absl::StatusCode::kDataLoss);
}

TEST(CryptoTest, TamperingIsDetected) {
  auto c = Cipher({{"k1", 'a'}});
  std::string env = *c->Seal(kNs, "k", "\"value\"");
  size_t ct = env.find("\"ct\":\"") + 6;
  env[ct] = env[ct] == 'A' ? 'B' : 'A';
  EXPECT_EQ(c->Open(kNs, "k", env).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(c->Open(kNs, "k", "{\"$enc\":\"rot13\"}").status().code(), absl::StatusCode::kDataLoss);
}

TEST(CryptoTest, AppliesToCredentialsScopes) {
  EXPECT_TRUE(CredentialCipher::Applies("tenant:acme/credentials"));
  EXPECT_TRUE(CredentialCipher::Applies("tenant:acme/credentials/oauth"));
  EXPECT_FALSE(CredentialCipher::Applies("tenant:acme/settings"));
  EXPECT_FALSE(CredentialCipher::Applies("tenant:acme/credentialsx"));
  EXPECT_FALSE(CredentialCipher::Applies("tenant:credentials/settings"));
}

TEST(CryptoTest, KeyFileParsing) {
  testing::ScratchDir dir;
  std::string path = dir.File("keys");
  {
    std::ofstream f(path);
    f << "# rotated 2026-11\n\nk2:" << std::string(64, 'b') << "\nk1:" << std::string(64, 'A') << "\n";
  }
  auto c = CredentialCipher::FromKeyFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->active_key_id(), "k2");
  {
    std::ofstream f(path);
    f << "k1:tooshort\n";
  }
  absl::Status bad = CredentialCipher::FromKeyFile(path).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message().find("tooshort"), absl::string_view::npos) << "key material echoed";
  EXPECT_FALSE(CredentialCipher::FromKeyFile(dir.File("missing")).ok());
}

}  // namespace
}  // namespace concordance::storage
