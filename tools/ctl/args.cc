#include "tools/ctl/args.h"

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gflags/gflags.h"
#include "tools/ctl/errors.h"

namespace concordance::ctl {
namespace {

// The flag called `name` on the command line ("expected-version",
// "nofollow", "h"), if it is one of ours; *negated for --noBOOL.
bool FindFlag(std::string name, gflags::CommandLineFlagInfo* info,
              bool* negated) {
  if (name == "h") name = "help";
  name = absl::StrReplaceAll(name, {{"-", "_"}});
  *negated = false;
  bool found = gflags::GetCommandLineFlagInfo(name.c_str(), info);
  if (!found && absl::StartsWith(name, "no")) {
    found = gflags::GetCommandLineFlagInfo(name.c_str() + 2, info) &&
            info->type == "bool";
    *negated = found;
  }
  if (!found) return false;
  return info->name == "help" || info->name == "version" ||
         absl::StrContains(info->filename, "tools/ctl/");
}

}  // namespace

absl::StatusOr<Args> ParseArgs(int argc, const char* const* argv) {
  Args out;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      out.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    size_t eq = body.find('=');
    std::string name = body.substr(0, eq);
    gflags::CommandLineFlagInfo info;
    bool negated;
    if (!FindFlag(name, &info, &negated)) {
      bool number = isdigit(static_cast<unsigned char>(arg[1]));
      return UsageError(absl::StrCat(
          "unknown flag ", arg,
          number ? " (a value starting with - goes after --)" : ""));
    }
    std::string value;
    if (negated && eq != std::string::npos) {
      return UsageError(absl::StrCat("flag ", arg, " takes no value"));
    }
    if (eq != std::string::npos) {
      value = body.substr(eq + 1);
    } else if (info.type == "bool") {
      value = negated ? "false" : "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return UsageError(absl::StrCat("flag ", arg, " needs a value"));
    }
    if (gflags::SetCommandLineOption(info.name.c_str(), value.c_str())
            .empty()) {
      return UsageError(absl::StrCat("bad value for --", name, ": '", value,
                                     "' (", info.type, " expected)"));
    }
    out.flags_given.insert(info.name);
  }
  return out;
}

}  // namespace concordance::ctl
