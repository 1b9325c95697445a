#include "util/failpoint.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace concordance::failpoint {
namespace {

TEST(FailpointTest, UnknownNamesAndBadActionsAreRefused) {
  EXPECT_FALSE(Configure("raft-save-befor-commit=crash").ok());
  EXPECT_NE(Configure("nope=crash").message().find("raft-save-before-commit"),
            std::string::npos)
      << "the error lists the known names";
  EXPECT_FALSE(Configure("raft-save-before-commit").ok());
  EXPECT_FALSE(Configure("raft-save-before-commit=explode").ok());
  EXPECT_FALSE(Configure("raft-save-before-commit=crash@0").ok());
  EXPECT_FALSE(Configure("raft-save-before-commit=sleep(0)").ok());
  EXPECT_FALSE(Configure("raft-save-before-commit=sleep(x)").ok());
  EXPECT_TRUE(
      Configure(
          "raft-save-before-commit=sleep(5)@3; compact-before-commit=crash")
          .ok());
  EXPECT_FALSE(Configure("compact-before-commit=error").ok()) << "a point that cannot fail";
  EXPECT_TRUE(Configure("").ok());
}

TEST(FailpointTest, ErrorFailsOnlyTheNthPass) {
  ASSERT_TRUE(Configure("raft-save-before-commit=error@2").ok());
  EXPECT_FALSE(Hit("raft-save-before-commit"));
  EXPECT_TRUE(Hit("raft-save-before-commit"));
  EXPECT_FALSE(Hit("raft-save-before-commit"));
  ASSERT_TRUE(Configure("").ok());
}

TEST(FailpointTest, NothingArmedDoesNothing) {
  ASSERT_TRUE(Configure("").ok());
  for (const Known& k : All()) Hit(k.name);
}

TEST(FailpointTest, CrashOnTheNthHitKillsTheProcessThen) {
  EXPECT_EXIT(
      {
        if (!Configure("raft-save-after-commit=crash@3").ok()) _exit(2);
        Hit("raft-save-after-commit");
        Hit("raft-save-before-commit");  // another point does not count
        Hit("raft-save-after-commit");
        fprintf(stderr, "two hits survived\n");
        Hit("raft-save-after-commit");
        _exit(0);  // not reached
      },
      ::testing::KilledBySignal(SIGKILL), "two hits survived");
}

}  // namespace
}  // namespace concordance::failpoint
