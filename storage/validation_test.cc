#include "storage/validation.h"

#include "gtest/gtest.h"

namespace concordance::storage {
namespace {

const Limits kLimits;

TEST(ValidateNamespace, AcceptsSeedNamespaces) {
  for (const char* ns :
       {"tenant:acme/settings", "tenant:acme/user:u1/preferences",
        "tenant:t-1/sessions/s9", "tenant:acme/user:u1/devices/d1",
        "tenant:ünïcødé/credentials", "tenant:a b/c d"}) {
    EXPECT_TRUE(ValidateNamespace(ns, kLimits).ok()) << ns;
  }
}

TEST(ValidateNamespace, RejectsMissingTenantPrefix) {
  EXPECT_EQ(ValidateNamespace("acme/settings", kLimits).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateNamespace("Tenant:acme/settings", kLimits).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateNamespace, RejectsMissingScopePath) {
  EXPECT_FALSE(ValidateNamespace("tenant:acme", kLimits).ok());
  EXPECT_FALSE(ValidateNamespace("tenant:acme/", kLimits).ok());
}

TEST(ValidateNamespace, RejectsEmptySegments) {
  EXPECT_FALSE(ValidateNamespace("tenant:/settings", kLimits).ok());
  EXPECT_FALSE(ValidateNamespace("tenant:acme//settings", kLimits).ok());
  EXPECT_FALSE(ValidateNamespace("tenant:acme/settings/", kLimits).ok());
}

TEST(ValidateNamespace, RejectsControlCharactersAndBadUtf8) {
  EXPECT_FALSE(ValidateNamespace(std::string("tenant:ac\0me/x", 14), kLimits).ok());
  EXPECT_FALSE(ValidateNamespace("tenant:acme/set\ntings", kLimits).ok());
  EXPECT_FALSE(ValidateNamespace("tenant:acme/\x7f", kLimits).ok());
  EXPECT_FALSE(ValidateNamespace("tenant:acme/\xc3\x28", kLimits).ok());
}

TEST(ValidateNamespace, LimitIsInclusive) {
  std::string prefix = "tenant:acme/";
  std::string at = prefix + std::string(kLimits.max_namespace_bytes - prefix.size(), 'a');
  EXPECT_TRUE(ValidateNamespace(at, kLimits).ok());
  absl::Status over = ValidateNamespace(at + "a", kLimits);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("257"), absl::string_view::npos) << over;
}

TEST(ExtractTenantId, ParsesTenant) {
  EXPECT_EQ(*ExtractTenantId("tenant:acme/user:u1/preferences"), "acme");
  EXPECT_EQ(*ExtractTenantId("tenant:x/y"), "x");
  EXPECT_FALSE(ExtractTenantId("acme/settings").ok());
  EXPECT_FALSE(ExtractTenantId("tenant:/settings").ok());
}

TEST(ExtractTenantId, DelimiterSeparatesSimilarTenants) {
  // Prefix confusion: "tenantA" must never match "tenantAB".
  EXPECT_EQ(*ExtractTenantId("tenant:acme/x"), "acme");
  EXPECT_EQ(*ExtractTenantId("tenant:acmeB/x"), "acmeB");
}

TEST(ValidateTenantId, Rules) {
  EXPECT_TRUE(ValidateTenantId("acme").ok());
  EXPECT_FALSE(ValidateTenantId("").ok());
  EXPECT_FALSE(ValidateTenantId("ac/me").ok());
  EXPECT_FALSE(ValidateTenantId("ac\tme").ok());
}

TEST(ValidateKey, AcceptsOrdinaryKeysAndSlash) {
  EXPECT_TRUE(ValidateKey("theme", kLimits).ok());
  EXPECT_TRUE(ValidateKey("a/b", kLimits).ok());  // written %2F in URLs
  EXPECT_TRUE(ValidateKey("日本", kLimits).ok());
}

TEST(ValidateKey, RejectsEmptyControlAndBadUtf8) {
  EXPECT_EQ(ValidateKey("", kLimits).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ValidateKey(std::string("a\0b", 3), kLimits).ok());
  EXPECT_FALSE(ValidateKey("\xff", kLimits).ok());
}

TEST(ValidateKey, LimitIsInclusive) {
  EXPECT_TRUE(ValidateKey(std::string(kLimits.max_key_bytes, 'k'), kLimits).ok());
  EXPECT_EQ(ValidateKey(std::string(kLimits.max_key_bytes + 1, 'k'), kLimits).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ValidateValueSize, LimitIsInclusive) {
  EXPECT_TRUE(ValidateValueSize(std::string(kLimits.max_value_bytes, 'v'), kLimits).ok());
  EXPECT_EQ(ValidateValueSize(std::string(kLimits.max_value_bytes + 1, 'v'), kLimits).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ValidateBatchSize, Bounds) {
  EXPECT_FALSE(ValidateBatchSize(0, kLimits).ok());
  EXPECT_TRUE(ValidateBatchSize(1, kLimits).ok());
  EXPECT_TRUE(ValidateBatchSize(kLimits.max_batch_ops, kLimits).ok());
  EXPECT_EQ(ValidateBatchSize(kLimits.max_batch_ops + 1, kLimits).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(IsValidUtf8, Cases) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));          // é
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // emoji
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));         // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));     // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80")); // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));         // truncated
}

}  // namespace
}  // namespace concordance::storage
