// How concordancectl reports a failure: an exit code per kind of failure
// and the one line of text on stderr that says what failed.
#ifndef CONCORDANCE_TOOLS_CTL_ERRORS_H_
#define CONCORDANCE_TOOLS_CTL_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace concordance::ctl {

// The process exit codes (docs/operations.md lists them).
enum ExitCode {
  kOk = 0,
  kOtherError = 1,
  kUsage = 2,        // bad command line (also: unknown command or flag)
  kAuth = 3,         // UNAUTHENTICATED, PERMISSION_DENIED
  kNotFound = 4,     // NOT_FOUND
  kConflict = 5,     // a compare-and-swap lost (version_conflict)
  kUnavailable = 6,  // UNAVAILABLE, DEADLINE_EXCEEDED, no leader, unreachable
};

// A mistake on the command line (exit code kUsage). This tool's own other
// failures (a file it cannot write) are absl::UnknownError (kOtherError).
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& s);

ExitCode ExitCodeOf(const absl::Status& s);

// What went wrong, for the error line: "conflict: current version is 3",
// "not found: no key k in tenant:a/b", "unavailable: …".
std::string Describe(const absl::Status& s);

// What concordancectl prints on stderr for a failure of `what` ("put
// tenant:a/b k"): the error line, a note when a write's outcome is unknown,
// and for usage errors a pointer to `concordancectl help <help_topic>`.
std::string Report(const std::string& what, const absl::Status& s,
                   const std::string& help_topic = "");

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_ERRORS_H_
