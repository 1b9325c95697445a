#include "util/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace concordance::failpoint {

const std::vector<Known>& All() {
  static const std::vector<Known> all = {
      {"raft-save-before-commit",
       "raft.db: entries and hard state written, not yet committed (fsynced)",
       true},
      {"raft-save-after-commit",
       "raft.db fsynced; the Ready's messages not sent, its entries not "
       "applied"},
      {"snapshot-install-after-file",
       "installing a snapshot: its image written, raft.db not yet changed"},
      {"snapshot-install-before-restore",
       "installing a snapshot: raft.db records it, state.db not yet restored "
       "from it"},
      {"snapshot-after-image-write",
       "making an image: the file written, raft.db not yet told"},
      {"compact-after-state-sync",
       "compacting: state.db fsynced, raft.db not yet compacted"},
      {"watch-replay-after-read",
       "a watch replaying its backlog: a page read from state.db, not yet "
       "delivered (widens the window against a snapshot install)"},
      {"compact-before-commit",
       "compacting: raft.db's compaction written, not yet committed"},
  };
  return all;
}

namespace internal {
std::atomic<bool> any_armed{false};
}  // namespace internal

namespace {

struct Armed {
  bool crash = false;
  bool fail = false;
  int sleep_ms = 0;
  uint64_t on_hit = 0;  // 0: every time
  uint64_t hits = 0;
};

absl::Mutex mu;
std::map<std::string, Armed>& Table() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
  static auto* table = new std::map<std::string, Armed>;
  return *table;
}

const Known* Find(absl::string_view name) {
  for (const Known& k : All()) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

absl::Status ParseAction(absl::string_view text, Armed* armed) {
  std::vector<absl::string_view> at =
      absl::StrSplit(text, absl::MaxSplits('@', 1));
  if (at.size() == 2 &&
      (!absl::SimpleAtoi(at[1], &armed->on_hit) || armed->on_hit == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": @N needs a count of at least 1"));
  }
  absl::string_view action = at[0];
  if (action == "crash") {
    armed->crash = true;
    return absl::OkStatus();
  }
  if (action == "error") {
    armed->fail = true;
    return absl::OkStatus();
  }
  if (absl::ConsumePrefix(&action, "sleep(") &&
      absl::ConsumeSuffix(&action, ")") &&
      absl::SimpleAtoi(action, &armed->sleep_ms) && armed->sleep_ms > 0 &&
      armed->sleep_ms <= 600000) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text,
                   "\": the action is crash, error or sleep(MS) (1..600000), "
                   "optionally @N"));
}

}  // namespace

absl::Status Configure(const std::string& spec) {
  std::map<std::string, Armed> table;
  for (absl::string_view item :
       absl::StrSplit(spec, ';', absl::SkipWhitespace())) {
    std::vector<absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    absl::string_view name = absl::StripAsciiWhitespace(kv[0]);
    if (kv.size() != 2)
      return absl::InvalidArgumentError(
          absl::StrCat("\"", item, "\": expected name=action"));
    const Known* known = Find(name);
    if (known == nullptr) {
      std::string names;
      for (const Known& k : All())
        absl::StrAppend(&names, names.empty() ? "" : ", ", k.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown failpoint \"", name, "\" (known: ", names, ")"));
    }
    Armed armed;
    if (absl::Status s = ParseAction(absl::StripAsciiWhitespace(kv[1]), &armed);
        !s.ok())
      return s;
    if (armed.fail && !known->can_fail) {
      return absl::InvalidArgumentError(absl::StrCat(
          "failpoint \"", name, "\" cannot fail, only crash or sleep"));
    }
    table[std::string(name)] = armed;
  }
  absl::MutexLock l(&mu);
  Table() = std::move(table);
  internal::any_armed.store(!Table().empty());
  return absl::OkStatus();
}

namespace internal {

bool HitSlow(const char* name) {
  bool crash = false, fail = false;
  int sleep_ms = 0;
  uint64_t hit = 0;
  {
    absl::MutexLock l(&mu);
    auto it = Table().find(name);
    if (it == Table().end()) return false;
    Armed& a = it->second;
    hit = ++a.hits;
    if (a.on_hit != 0 && hit != a.on_hit) return false;
    crash = a.crash;
    fail = a.fail;
    sleep_ms = a.sleep_ms;
  }
  if (crash) {
    // Straight to stderr (the log may buffer): then die as kill -9 would,
    // with nothing flushed or closed on the way.
    fprintf(stderr, "failpoint %s (hit %llu): crashing\n", name,
            static_cast<unsigned long long>(hit));
    fflush(stderr);
    raise(SIGKILL);
  }
  if (fail) {
    fprintf(stderr, "failpoint %s (hit %llu): failing\n", name,
            static_cast<unsigned long long>(hit));
    return true;
  }
  fprintf(stderr, "failpoint %s (hit %llu): sleeping %d ms\n", name,
          static_cast<unsigned long long>(hit), sleep_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  return false;
}

}  // namespace internal
}  // namespace concordance::failpoint
