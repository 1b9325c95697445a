// Usage text: the command list with the global flags, and one command's
// (or one group's, e.g. "member") usage with its flags.
#ifndef CONCORDANCE_TOOLS_CTL_HELP_H_
#define CONCORDANCE_TOOLS_CTL_HELP_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/ctl/command.h"

namespace concordance::ctl {

void PrintUsage(std::ostream& out);
// `help WORDS...`: the usage of the commands WORDS name; a usage error if
// they name none.
absl::Status PrintHelp(const std::vector<std::string>& words,
                       std::ostream& out);
// "concordancectl put NS KEY VALUE [--ttl=N] [--expected-version=N]"
std::string UsageLine(const Command& c);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_HELP_H_
