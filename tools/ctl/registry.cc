#include "tools/ctl/command.h"

namespace concordance::ctl {

const std::vector<Command>& AllCommands() {
  static const std::vector<Command>* all = [] {
    auto* out = new std::vector<Command>();
    for (auto part :
         {KvCommands, BatchCommands, ChangeCommands, SnapshotCommands,
          ClusterCommands, MemberCommands, EndpointCommands}) {
      std::vector<Command> rows = part();
      out->insert(out->end(), rows.begin(), rows.end());
    }
    return out;
  }();
  return *all;
}

const Command* FindCommand(const std::vector<std::string>& words,
                           size_t* used) {
  for (size_t n : {2, 1}) {
    if (words.size() < n) continue;
    std::string name = n == 2 ? words[0] + " " + words[1] : words[0];
    for (const Command& c : AllCommands()) {
      if (c.name == name) {
        *used = n;
        return &c;
      }
    }
  }
  return nullptr;
}

}  // namespace concordance::ctl
