// Cluster.Status asked of particular nodes (no failover: each answer is
// that node's own view), in parallel.
#ifndef CONCORDANCE_TOOLS_CTL_PROBE_H_
#define CONCORDANCE_TOOLS_CTL_PROBE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/client/client.h"

namespace concordance::ctl {

struct Probe {
  std::string endpoint;
  absl::StatusOr<v1::StatusResponse> status;
  absl::Duration took;
};

// The status of each endpoint, in their order.
std::vector<Probe> ProbeEach(client::Client& c,
                             const std::vector<std::string>& endpoints);

// The endpoints, then every member address any answer names, until no
// answer names a new one.
std::vector<Probe> ProbeCluster(client::Client& c,
                                const std::vector<std::string>& endpoints);

// The answer of the node that says it leads (the highest term if several
// do, as a deposed leader may not know yet); nullptr if none.
const v1::StatusResponse* LeaderAnswer(const std::vector<Probe>& probes);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_PROBE_H_
