#include "tools/ctl/errors.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tools/client/client.h"

namespace concordance::ctl {
namespace {

constexpr char kUsagePayload[] = "concordancectl/usage";

// "version_conflict" / "NOT_FOUND" → "version conflict" / "not found".
std::string Label(const absl::Status& s) {
  std::string code = client::ErrorCode(s);
  if (code.empty()) code = absl::StatusCodeToString(s.code());
  return absl::AsciiStrToLower(absl::StrReplaceAll(code, {{"_", " "}}));
}

bool IsConflict(const absl::Status& s) {
  std::string code = client::ErrorCode(s);
  if (!code.empty()) return code == "version_conflict";
  // A server that sends no concordance-error-code: gRPC's own CAS codes.
  return s.code() == absl::StatusCode::kAborted ||
         s.code() == absl::StatusCode::kFailedPrecondition;
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kUsagePayload, absl::Cord("true"));
  return s;
}

bool IsUsageError(const absl::Status& s) {
  return s.GetPayload(kUsagePayload).has_value();
}

ExitCode ExitCodeOf(const absl::Status& s) {
  if (s.ok()) return kOk;
  if (IsUsageError(s)) return kUsage;
  if (IsConflict(s)) return kConflict;
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kAuth;
    case absl::StatusCode::kNotFound:
      return kNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kUnavailable;
    default:
      return kOtherError;
  }
}

std::string Describe(const absl::Status& s) {
  // Usage errors and this tool's own failures (kUnknown) say it all.
  if (IsUsageError(s) || s.code() == absl::StatusCode::kUnknown) {
    return std::string(s.message());
  }
  std::string op;
  if (auto index = client::OpIndex(s)) op = absl::StrCat("op ", *index, ": ");
  if (IsConflict(s)) {
    if (auto current = client::CurrentVersion(s)) {
      return absl::StrCat(op, "conflict: current version is ", *current);
    }
    return absl::StrCat(op, "conflict: ", s.message());
  }
  if (auto oldest = client::OldestSeq(s)) {
    return absl::StrCat("compacted (the oldest change kept is seq ", *oldest,
                        "): ", s.message());
  }
  return absl::StrCat(Label(s), ": ", s.message());
}

std::string Report(const std::string& what, const absl::Status& s,
                   const std::string& help_topic) {
  std::string out = absl::StrCat("concordancectl: ", what,
                                 what.empty() ? "" : ": ", Describe(s), "\n");
  if (client::Indeterminate(s)) {
    absl::StrAppend(&out,
                    "concordancectl: note: the write may or may not have been "
                    "applied; read it back before retrying\n");
  }
  if (IsUsageError(s)) {
    absl::StrAppend(&out, "(see: concordancectl help",
                    help_topic.empty() ? "" : " ", help_topic, ")\n");
  }
  return out;
}

}  // namespace concordance::ctl
