#include "tools/ctl/input.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tools/ctl/errors.h"

namespace concordance::ctl {

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return UsageError(
        absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  }
  text << in.rdbuf();
  if (in.bad()) return absl::UnknownError(absl::StrCat("cannot read ", path));
  return text.str();
}

}  // namespace concordance::ctl
