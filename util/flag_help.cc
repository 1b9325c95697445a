#include "util/flag_help.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "gflags/gflags.h"
#include "util/version.h"

DECLARE_bool(help);
DECLARE_bool(helpshort);
DECLARE_bool(version);

namespace concordance {

void PrintFlagsOf(const char* defining_file) {
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);  // sorted by name
  for (const gflags::CommandLineFlagInfo& f : flags) {
    if (!absl::EndsWith(f.filename, defining_file)) continue;
    std::string name = absl::StrReplaceAll(f.name, {{"_", "-"}});
    std::string value = f.type == "string" ? "\"" + f.default_value + "\"" : f.default_value;
    printf("  --%s (default %s)\n      %s\n", name.c_str(), value.c_str(), f.description.c_str());
  }
}

void ParseFlagsWithHelp(int* argc, char*** argv, const char* name, const char* usage,
                        const char* defining_file) {
  gflags::ParseCommandLineNonHelpFlags(argc, argv, true);
  if (FLAGS_help || FLAGS_helpshort) {
    printf("%s %s\n\n%s\nFlags (spelled with dashes or underscores):\n", name, Version(), usage);
    PrintFlagsOf(defining_file);
    printf("\nAlso: --version; --helpfull lists every flag of every library.\n");
    exit(0);
  }
  if (FLAGS_version) {
    printf("%s %s (commit %s)\n", name, Version(), Commit());
    exit(0);
  }
  gflags::HandleCommandLineHelpFlags();  // --helpfull, --helpmatch=...
}

}  // namespace concordance
