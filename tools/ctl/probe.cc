#include "tools/ctl/probe.h"

#include <future>
#include <set>

namespace concordance::ctl {

std::vector<Probe> ProbeEach(client::Client& c,
                             const std::vector<std::string>& endpoints) {
  std::vector<std::future<Probe>> pending;
  for (const std::string& e : endpoints) {
    pending.push_back(std::async(std::launch::async, [&c, e] {
      absl::Time start = absl::Now();
      absl::StatusOr<v1::StatusResponse> s = c.Status(e);
      return Probe{e, std::move(s), absl::Now() - start};
    }));
  }
  std::vector<Probe> out;
  for (auto& p : pending) out.push_back(p.get());
  return out;
}

std::vector<Probe> ProbeCluster(client::Client& c,
                                const std::vector<std::string>& endpoints) {
  std::vector<Probe> out;
  std::set<std::string> asked;
  std::vector<std::string> next;
  for (const std::string& e : endpoints) {
    if (asked.insert(e).second) next.push_back(e);
  }
  while (!next.empty()) {
    std::vector<Probe> wave = ProbeEach(c, next);
    next.clear();
    for (Probe& p : wave) {
      if (!p.status.ok()) continue;
      for (const v1::Peer& peer : p.status->peers()) {
        if (asked.insert(peer.address()).second) next.push_back(peer.address());
      }
    }
    for (Probe& p : wave) out.push_back(std::move(p));
  }
  return out;
}

const v1::StatusResponse* LeaderAnswer(const std::vector<Probe>& probes) {
  const v1::StatusResponse* leader = nullptr;
  for (const Probe& p : probes) {
    if (!p.status.ok() || p.status->role() != "leader") continue;
    if (!leader || p.status->term() > leader->term()) leader = &*p.status;
  }
  return leader;
}

}  // namespace concordance::ctl
