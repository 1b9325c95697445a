// --help for the project's binaries: their own flags (those defined in one
// source file), not the hundred that gflags and glog link in, and exit 0.
// gflags' own --help lists every linked-in library's flags first and exits 1.
#ifndef CONCORDANCE_UTIL_FLAG_HELP_H_
#define CONCORDANCE_UTIL_FLAG_HELP_H_

namespace concordance {

// Prints "  --name (default D)\n      description" for every flag defined in
// a file whose path ends with `defining_file`, with dashes for
// underscores, sorted by name.
void PrintFlagsOf(const char* defining_file);

// Parses the command line like gflags::ParseCommandLineFlags, but answers
// --help (and --helpshort) with `usage` followed by the flags of
// `defining_file`, and --version with "`name` VERSION (commit C)"; both exit
// 0. --helpfull still lists everything.
void ParseFlagsWithHelp(int* argc, char*** argv, const char* name, const char* usage,
                        const char* defining_file);

}  // namespace concordance

#endif  // CONCORDANCE_UTIL_FLAG_HELP_H_
