#include "tools/ctl/help.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gflags/gflags.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/flags.h"
#include "tools/ctl/table.h"

namespace concordance::ctl {
namespace {

// What a string flag's value is ("TEXT" when nothing says more).
std::string Placeholder(const std::string& flag) {
  static const auto* names =
      new std::map<std::string, std::string>{{"endpoints", "HOST:PORT,..."},
                                             {"api_key_file", "FILE"},
                                             {"key", "KEY"},
                                             {"actor", "ACTOR"},
                                             {"cacert", "FILE"},
                                             {"client_cert", "FILE"},
                                             {"client_key", "FILE"},
                                             {"timeout", "DURATION"},
                                             {"namespace", "NS"},
                                             {"tenant", "T"}};
  auto it = names->find(flag);
  return it == names->end() ? "TEXT" : it->second;
}

// "--expected-version=N", "--follow", "--namespace=NS"
std::string Spelled(const std::string& flag) {
  gflags::CommandLineFlagInfo info;
  gflags::GetCommandLineFlagInfo(flag.c_str(), &info);
  std::string name = "--" + absl::StrReplaceAll(flag, {{"_", "-"}});
  if (info.type == "bool") return name;
  return name + "=" +
         (absl::StartsWith(info.type, "int") ? "N" : Placeholder(flag));
}

void AddFlagRows(const std::vector<std::string>& flags, Table* t) {
  for (const std::string& f : flags) {
    gflags::CommandLineFlagInfo info;
    gflags::GetCommandLineFlagInfo(f.c_str(), &info);
    std::string spelled =
        f == "output" ? "-o, --output=table|json" : Spelled(f);
    t->AddRow({"  " + spelled, info.description});
  }
}

void PrintCommand(const Command& c, std::ostream& out) {
  out << "Usage: " << UsageLine(c) << "\n  " << c.summary << "\n";
  if (c.flags.empty()) return;
  out << "Flags:\n";
  Table t;
  AddFlagRows(c.flags, &t);
  t.Print(out);
}

}  // namespace

std::string UsageLine(const Command& c) {
  std::string line = absl::StrCat("concordancectl ", c.name);
  if (!c.operands.empty()) absl::StrAppend(&line, " ", c.operands);
  for (const std::string& f : c.flags)
    absl::StrAppend(&line, " [", Spelled(f), "]");
  return line;
}

void PrintUsage(std::ostream& out) {
  out << "concordancectl: the operator CLI of Concordance (over gRPC).\n\n"
      << "Usage: concordancectl [flags] COMMAND [ARGS] [flags]\n\nCommands:\n";
  Table commands;
  for (const Command& c : AllCommands()) {
    commands.AddRow(
        {"  " + absl::StrCat(c.name, c.operands.empty() ? "" : " ", c.operands),
         c.summary});
  }
  commands.Print(out);
  out << "\nGlobal flags:\n";
  Table flags;
  std::vector<std::string> global = GlobalFlags();
  global.pop_back();  // -o: shown with --output
  AddFlagRows(global, &flags);
  flags.AddRow(
      {"  --help, -h", "print this (help COMMAND: that command's flags)"});
  flags.AddRow({"  --version", "print the version"});
  flags.Print(out);
  out << "\nNS is a namespace (tenant:T/scope); VALUE is JSON text (\"dark\" "
         "is written '\"dark\"');\na value starting with - goes after --.\n"
      << "Exit codes: 0 ok, 1 error, 2 usage, 3 auth, 4 not found, 5 "
         "conflict, 6 unavailable.\n"
      << "More: docs/operations.md (concordancectl).\n";
}

absl::Status PrintHelp(const std::vector<std::string>& words,
                       std::ostream& out) {
  std::string name = absl::StrJoin(words, " ");
  bool any = false;
  for (const Command& c : AllCommands()) {
    // "member" shows every member command; "member add" the one.
    if (c.name != name && !absl::StartsWith(c.name, name + " ")) continue;
    if (any) out << "\n";
    PrintCommand(c, out);
    any = true;
  }
  if (!any) return UsageError(absl::StrCat("unknown command '", name, "'"));
  return absl::OkStatus();
}

}  // namespace concordance::ctl
