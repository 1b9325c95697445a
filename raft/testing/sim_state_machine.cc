#include "raft/testing/sim_state_machine.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"
#include "storage/log_store.h"

namespace concordance::raft::testing {

void SimStateMachine::Apply(const LogEntry& e) {
  CHECK_EQ(e.index(), applied_index_ + 1) << "applied out of order";
  if (e.type() == COMMAND) {
    size_t eq = e.data().find('=');
    if (eq != std::string::npos) {
      data_[e.data().substr(0, eq)] = e.data().substr(eq + 1);
    }
  }
  applied_index_ = e.index();
  applied_term_ = e.term();
}

std::string SimStateMachine::Serialize() const {
  std::string out = absl::StrCat(applied_index_, " ", applied_term_, "\n");
  for (const auto& [k, v] : data_) absl::StrAppend(&out, k, "=", v, "\n");
  return out;
}

bool SimStateMachine::Restore(const std::string& image) {
  std::vector<std::string> lines = absl::StrSplit(image, '\n', absl::SkipEmpty());
  if (lines.empty()) return false;
  std::vector<std::string> head = absl::StrSplit(lines[0], ' ');
  uint64_t index, term;
  if (head.size() != 2 || !absl::SimpleAtoi(head[0], &index) ||
      !absl::SimpleAtoi(head[1], &term)) {
    return false;
  }
  std::map<std::string, std::string> data;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t eq = lines[i].find('=');
    if (eq == std::string::npos) return false;
    data[lines[i].substr(0, eq)] = lines[i].substr(eq + 1);
  }
  data_ = std::move(data);
  applied_index_ = index;
  applied_term_ = term;
  return true;
}

uint64_t SimStateMachine::Hash() const { return storage::SnapshotChecksum(Serialize()); }

}  // namespace concordance::raft::testing
