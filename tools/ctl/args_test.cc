#include "tools/ctl/args.h"

#include "gtest/gtest.h"
#include "tools/ctl/config.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/flags.h"

namespace concordance::ctl {
namespace {

absl::StatusOr<Args> Parse(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "concordancectl");
  return ParseArgs(static_cast<int>(argv.size()), argv.data());
}

TEST(ArgsTest, FlagsGoAnywhereInAnySpelling) {
  absl::StatusOr<Args> a =
      Parse({"put", "--expected-version", "3", "tenant:a/s", "-o", "json", "k",
             "--ttl=60", "1"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->positional,
            (std::vector<std::string>{"put", "tenant:a/s", "k", "1"}));
  EXPECT_EQ(FLAGS_expected_version, 3);
  EXPECT_EQ(FLAGS_ttl, 60);
  EXPECT_TRUE(a->Given("expected_version"));
  EXPECT_TRUE(a->Given("o"));
  EXPECT_FALSE(a->Given("page_size"));
  EXPECT_EQ(*OutputFormat(*a), Format::kJson);
}

TEST(ArgsTest, BoolsStdinAndTheEndOfFlags) {
  absl::StatusOr<Args> a =
      Parse({"--follow", "put", "-", "--", "-5", "--nofollow"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->positional,
            (std::vector<std::string>{"put", "-", "-5", "--nofollow"}));
  EXPECT_TRUE(FLAGS_follow);
  a = Parse({"--nofollow"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(FLAGS_follow);
}

TEST(ArgsTest, MistakesAreUsageErrors) {
  for (std::vector<const char*> bad : {
           std::vector<const char*>{"--frobnicate"},
           {"--ttl=soon"},
           {"--ttl"},
           {"-5"},
           {"--helpfull"},  // gflags' own, not ours
       }) {
    absl::StatusOr<Args> a = Parse(bad);
    EXPECT_TRUE(!a.ok() && IsUsageError(a.status())) << bad[0];
  }
}

TEST(ArgsTest, KeyFromAFlagOrAFileButNotBoth) {
  absl::StatusOr<Args> a = Parse({"--key=k1", "--api-key-file=/nonexistent"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(IsUsageError(ClientOptions(*a).status()));
  a = Parse({"--api-key-file=", "--timeout=250ms", "--endpoints=a:1, b:2"});
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<client::Options> o = ClientOptions(*a);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->key, "k1");
  EXPECT_EQ(o->attempt_timeout.count(), 250);
  EXPECT_EQ(o->endpoints, (std::vector<std::string>{"a:1", "b:2"}));
  a = Parse({"--timeout=5"});  // no unit
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(IsUsageError(ClientOptions(*a).status()));
}

}  // namespace
}  // namespace concordance::ctl
