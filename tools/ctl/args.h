// The command line: flags anywhere (gflags holds their values), the rest
// positional. `--` ends the flags (a VALUE such as -5 comes after it);
// a lone `-` is positional (stdin).
#ifndef CONCORDANCE_TOOLS_CTL_ARGS_H_
#define CONCORDANCE_TOOLS_CTL_ARGS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace concordance::ctl {

struct Args {
  std::vector<std::string> positional;
  std::set<std::string> flags_given;  // gflags names (underscores)

  bool Given(const std::string& flag) const {
    return flags_given.count(flag) > 0;
  }
};

// Sets the flags in argv[1..] through gflags and returns the rest. Accepts
// --name=value, --name value, -name value, --bool, --nobool and -h (help).
// Only concordancectl's own flags (tools/ctl/flags.cc), --help and
// --version exist; anything else is a usage error.
absl::StatusOr<Args> ParseArgs(int argc, const char* const* argv);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_ARGS_H_
