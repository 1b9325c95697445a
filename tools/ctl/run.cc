#include "tools/ctl/run.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tools/ctl/command.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/flags.h"
#include "tools/ctl/help.h"
#include "util/version.h"

namespace concordance::ctl {
namespace {

// Prints the error line (and the notes it calls for); the exit code.
int Fail(const std::string& what, const absl::Status& s,
         const std::string& help_topic = "") {
  std::cerr << Report(what, s, help_topic);
  return ExitCodeOf(s);
}

// What the error line names: the command and its first two operands
// ("put tenant:a/b k", without the value).
std::string Label(const Command& c, const Operands& ops) {
  std::string label = c.name;
  for (size_t i = 0; i < ops.size() && i < 2; ++i) {
    absl::StrAppend(&label, " ", ops[i]);
  }
  return label;
}

absl::Status CheckCommandLine(const Command& c, const Args& args,
                              const Operands& ops) {
  for (const std::string& f : args.flags_given) {
    const auto& global = GlobalFlags();
    if (std::count(global.begin(), global.end(), f) > 0) continue;
    if (std::count(c.flags.begin(), c.flags.end(), f) > 0) continue;
    return UsageError(absl::StrCat("--", absl::StrReplaceAll(f, {{"_", "-"}}),
                                   " does not apply to ", c.name));
  }
  int n = static_cast<int>(ops.size());
  if (n < c.min_operands || n > c.max_operands) {
    return UsageError("usage: " + UsageLine(c));
  }
  return absl::OkStatus();
}

absl::Status Dispatch(const Command& c, const Args& args, const Operands& ops) {
  absl::Status s = CheckCommandLine(c, args, ops);
  if (!s.ok()) return s;
  absl::StatusOr<Format> format = OutputFormat(args);
  if (!format.ok()) return format.status();
  absl::StatusOr<client::Options> options =
      c.needs_client ? ClientOptions(args) : client::Options();
  if (!options.ok()) return options.status();
  client::Client client(*options);
  Env env{client, *format, args, options->endpoints};
  return c.run(env, ops);
}

// Not a command: a group without its subcommand ("member"), or unknown.
int Unknown(const std::vector<std::string>& words) {
  std::string group;
  for (const Command& c : AllCommands()) {
    if (absl::StartsWith(c.name, words[0] + " ")) {
      absl::StrAppend(&group, group.empty() ? "" : ", ", c.name);
    }
  }
  if (group.empty()) {
    return Fail("",
                UsageError(absl::StrCat("unknown command '", words[0], "'")));
  }
  return Fail(words[0], UsageError("want one of: " + group), words[0]);
}

int Help(std::vector<std::string> words) {
  if (!words.empty() && words[0] == "help") words.erase(words.begin());
  if (words.empty()) {
    PrintUsage(std::cout);
    return kOk;
  }
  absl::Status s = PrintHelp(words, std::cout);
  return s.ok() ? kOk : Fail("help", s);
}

}  // namespace

int Run(int argc, const char* const* argv) {
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) return Fail("", args.status());
  if (FLAGS_version) {
    std::cout << "concordancectl " << Version() << " (commit " << Commit()
              << ")\n";
    return kOk;
  }
  const std::vector<std::string>& words = args->positional;
  if (FLAGS_help || (!words.empty() && words[0] == "help")) return Help(words);
  if (words.empty()) {
    PrintUsage(std::cerr);
    return kUsage;
  }
  size_t used = 0;
  const Command* c = FindCommand(words, &used);
  if (c == nullptr) return Unknown(words);
  Operands ops(words.begin() + used, words.end());
  absl::Status s = Dispatch(*c, *args, ops);
  return s.ok() ? kOk : Fail(Label(*c, ops), s, c->name);
}

}  // namespace concordance::ctl
