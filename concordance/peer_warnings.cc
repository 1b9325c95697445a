#include "concordance/peer_warnings.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"

namespace concordance {

namespace {

int64_t Seconds(PeerWarnings::Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

}  // namespace

std::vector<std::string> PeerWarnings::Observe(const View& view,
                                               Clock::time_point now) {
  std::vector<std::string> lines;
  bool member = false;
  for (const Member& m : view.members) member |= m.node_id == view.self_id;
  std::set<std::string> seen;
  if (member) {
    for (const Member& m : view.members) {
      if (m.node_id == view.self_id) continue;
      std::string key = "peer " + m.node_id;
      seen.insert(key);
      Track(key, !m.reachable,
            absl::StrCat("peer ", m.node_id, " at ", m.address,
                         " is unreachable"),
            absl::StrCat("peer ", m.node_id, " at ", m.address,
                         " is reachable again"),
            now, &lines);
    }
    std::string quorum = QuorumProblem(view);
    seen.insert("quorum");
    Track("quorum", !quorum.empty(), quorum,
          "a quorum is reachable and a leader known again", now, &lines);
  }
  // Members that left the configuration (or this node left it): forget them.
  for (auto it = conditions_.begin(); it != conditions_.end();) {
    it = seen.count(it->first) ? std::next(it) : conditions_.erase(it);
  }
  return lines;
}

std::string PeerWarnings::QuorumProblem(const View& view) {
  int voters = 0, reachable = 0;
  std::vector<std::string> missing;
  for (const Member& m : view.members) {
    if (!m.voter) continue;
    ++voters;
    if (m.node_id == view.self_id || m.reachable) {
      ++reachable;
    } else {
      missing.push_back(m.node_id);
    }
  }
  int quorum = voters / 2 + 1;
  if (reachable < quorum) {
    return absl::StrCat("quorum lost: ", reachable, " of ", voters,
                        " voters reachable (", quorum,
                        " needed; unreachable: ", absl::StrJoin(missing, ", "),
                        "); writes cannot commit");
  }
  if (view.leader_id.empty()) return "no leader is known; writes cannot commit";
  return "";
}

void PeerWarnings::Track(const std::string& key, bool bad,
                         const std::string& what, const std::string& cleared,
                         Clock::time_point now,
                         std::vector<std::string>* lines) {
  auto it = conditions_.find(key);
  if (!bad) {
    if (it == conditions_.end()) return;
    if (it->second.last_warned) {
      std::string line = absl::StrCat(cleared, " (after ",
                                      Seconds(now - it->second.since), " s)");
      LOG(INFO) << line;
      lines->push_back(line);
    }
    conditions_.erase(it);
    return;
  }
  if (it == conditions_.end())
    it = conditions_.emplace(key, Condition{now, std::nullopt}).first;
  Condition& c = it->second;
  if (now - c.since < options_.grace) return;
  if (c.last_warned && now - *c.last_warned < options_.interval) return;
  c.last_warned = now;
  std::string line =
      absl::StrCat(what, " (for ", Seconds(now - c.since), " s)");
  LOG(WARNING) << line;
  lines->push_back(line);
}

}  // namespace concordance
