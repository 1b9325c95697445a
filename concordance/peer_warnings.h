// PeerWarnings: what an operator sees in the log while the cluster is not
// whole (design.md §14). While a member cannot be reached, a WARNING names
// it and repeats every `interval`; while fewer voters than a quorum are
// reachable (or no leader is known), another one says so. Each ends with
// one INFO line when the condition clears. Nothing is said during `grace`
// (a restart or a brief blip), and nothing while this node is no member.
//
// Pure bookkeeping: the caller (the Raft loop) passes the time and what it
// sees; not thread-safe.
#ifndef CONCORDANCE_CONCORDANCE_PEER_WARNINGS_H_
#define CONCORDANCE_CONCORDANCE_PEER_WARNINGS_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace concordance {

class PeerWarnings {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds grace{2000};
    std::chrono::milliseconds interval{10000};
  };
  struct Member {
    std::string node_id;
    std::string address;
    bool voter = false;
    bool reachable = false;  // this node holds a working link to it
  };
  struct View {
    std::string self_id;
    std::string leader_id;        // "" when none is known
    std::vector<Member> members;  // the configuration, this node included
  };

  explicit PeerWarnings(Options options) : options_(options) {}

  // Looks at `view` at `now`; returns the lines it logged (for tests).
  std::vector<std::string> Observe(const View& view, Clock::time_point now);

 private:
  struct Condition {
    Clock::time_point since;
    std::optional<Clock::time_point> last_warned;
  };
  // Warns about `key` (true) or clears it (false); `what` says what is
  // wrong, `cleared` what is said when it ends after a warning.
  void Track(const std::string& key, bool bad, const std::string& what,
             const std::string& cleared, Clock::time_point now,
             std::vector<std::string>* lines);
  // "" when a quorum of voters is reachable and a leader is known, else why
  // not.
  static std::string QuorumProblem(const View& view);

  Options options_;
  std::map<std::string, Condition> conditions_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_PEER_WARNINGS_H_
