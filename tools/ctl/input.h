// Reading what a command is given: a file, or stdin for "-".
#ifndef CONCORDANCE_TOOLS_CTL_INPUT_H_
#define CONCORDANCE_TOOLS_CTL_INPUT_H_

#include <string>

#include "absl/status/statusor.h"

namespace concordance::ctl {

// The whole content of `path` ("-": stdin); a usage error when it cannot
// be opened.
absl::StatusOr<std::string> ReadInput(const std::string& path);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_INPUT_H_
