// A concordancectl command: one row of the dispatch table (name, operands,
// the flags it takes, its handler). Each *_commands.cc file contributes
// the rows of its commands; registry.cc lists them all.
#ifndef CONCORDANCE_TOOLS_CTL_COMMAND_H_
#define CONCORDANCE_TOOLS_CTL_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/client/client.h"
#include "tools/ctl/args.h"
#include "tools/ctl/config.h"

namespace concordance::ctl {

// What a handler works with. Output goes to stdout, progress and notes to
// stderr; the failure it returns becomes the error line and exit code.
struct Env {
  client::Client& client;
  Format format;
  const Args& args;
  const std::vector<std::string>& endpoints;  // as given (--endpoints)
};

using Operands = std::vector<std::string>;
using Handler = absl::Status (*)(Env& env, const Operands& operands);

struct Command {
  std::string name;      // "get", "member add"
  std::string operands;  // "NS KEY", for usage
  std::string summary;
  std::vector<std::string> flags;  // its own flags (tools/ctl/flags.h)
  int min_operands = 0;
  int max_operands = 0;
  Handler run = nullptr;
  bool needs_client = true;  // false: runs without a key or endpoints
};

std::vector<Command> KvCommands();        // get, put, del, ls
std::vector<Command> BatchCommands();     // batch
std::vector<Command> ChangeCommands();    // watch, changes
std::vector<Command> SnapshotCommands();  // snapshot save, snapshot restore
std::vector<Command> ClusterCommands();   // cluster status
std::vector<Command> EndpointCommands();  // endpoint health
std::vector<Command> MemberCommands();    // member list, add, remove, transfer

// Every command, in the order help lists them.
const std::vector<Command>& AllCommands();
// The command named by the first two words of `words` (or the first
// one); *used is how many words its name took. nullptr if none.
const Command* FindCommand(const std::vector<std::string>& words, size_t* used);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_COMMAND_H_
