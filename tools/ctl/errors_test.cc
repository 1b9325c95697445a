#include "tools/ctl/errors.h"

#include "gtest/gtest.h"
#include "util/status_payloads.h"

namespace concordance::ctl {
namespace {

TEST(ErrorsTest, EachKindOfFailureHasItsExitCode) {
  EXPECT_EQ(ExitCodeOf(absl::OkStatus()), kOk);
  EXPECT_EQ(ExitCodeOf(UsageError("bad flag")), kUsage);
  EXPECT_EQ(ExitCodeOf(absl::UnauthenticatedError("no key")), kAuth);
  EXPECT_EQ(ExitCodeOf(absl::PermissionDeniedError("read-only")), kAuth);
  EXPECT_EQ(ExitCodeOf(absl::NotFoundError("no key k")), kNotFound);
  EXPECT_EQ(ExitCodeOf(absl::AbortedError("conflict")), kConflict);
  EXPECT_EQ(ExitCodeOf(absl::UnavailableError("no leader")), kUnavailable);
  EXPECT_EQ(ExitCodeOf(absl::DeadlineExceededError("late")), kUnavailable);
  EXPECT_EQ(ExitCodeOf(absl::InvalidArgumentError("bad namespace")),
            kOtherError);
  EXPECT_EQ(ExitCodeOf(absl::UnknownError("cannot write")), kOtherError);
}

TEST(ErrorsTest, DescribeNamesTheKindThenTheMessage) {
  EXPECT_EQ(Describe(absl::NotFoundError("no key k in tenant:a/b")),
            "not found: no key k in tenant:a/b");
  EXPECT_EQ(Describe(absl::AbortedError("the current version is 3")),
            "conflict: the current version is 3");
  EXPECT_EQ(Describe(UsageError("unknown flag --x")), "unknown flag --x");
  EXPECT_EQ(Describe(absl::UnknownError("cannot write f.part")),
            "cannot write f.part");
}

TEST(ErrorsTest, AConflictNamesTheCurrentVersionAndTheOp) {
  absl::Status s = absl::AbortedError("batch op 1: version conflict");
  SetIntPayload(s, kCurrentVersionPayload, 3);
  SetIntPayload(s, kOpIndexPayload, 1);
  EXPECT_EQ(
      Report("batch ops.json", s),
      "concordancectl: batch ops.json: op 1: conflict: current version is 3\n");
}

TEST(ErrorsTest, AnUnknownOutcomeAndAUsageErrorGetANote) {
  absl::Status s = absl::UnavailableError("proposal timed out");
  s.SetPayload(kIndeterminatePayload, absl::Cord("true"));
  EXPECT_EQ(ExitCodeOf(s), kUnavailable);
  EXPECT_EQ(
      Report("put tenant:a/b k", s),
      "concordancectl: put tenant:a/b k: unavailable: proposal timed out\n"
      "concordancectl: note: the write may or may not have been applied; "
      "read it back before retrying\n");
  EXPECT_EQ(
      Report("get", UsageError("usage: concordancectl get NS KEY"), "get"),
      "concordancectl: get: usage: concordancectl get NS KEY\n"
      "(see: concordancectl help get)\n");
}

}  // namespace
}  // namespace concordance::ctl
