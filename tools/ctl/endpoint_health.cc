// endpoint health: Cluster.Status of each --endpoints entry. Healthy: it
// answered, is a member, and knows a leader.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/ctl/command.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/probe.h"
#include "tools/ctl/records.h"
#include "tools/ctl/table.h"

namespace concordance::ctl {
namespace {

// Why `p` is unhealthy ("" if it is not).
std::string Problem(const Probe& p) {
  if (!p.status.ok()) return Describe(p.status.status());
  if (p.status->removed()) return "removed from the cluster";
  if (!p.status->has_leader() || p.status->leader().node_id().empty()) {
    return "no leader known";
  }
  return "";
}

void Print(Format format, const std::vector<Probe>& probes) {
  if (format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) {
      w.StartArray();
      for (const Probe& p : probes) {
        w.StartObject();
        w.Key("endpoint");
        WriteString(w, p.endpoint);
        w.Key("healthy");
        w.Bool(Problem(p).empty());
        w.Key("tookMs");
        w.Double(absl::ToDoubleMilliseconds(p.took));
        w.Key("error");
        if (Problem(p).empty()) {
          w.Null();
        } else {
          WriteString(w, Problem(p));
        }
        w.EndObject();
      }
      w.EndArray();
    }) << "\n";
    return;
  }
  Table t({"ENDPOINT", "HEALTHY", "TOOK", "ERROR"});
  for (const Probe& p : probes) {
    std::string problem = Problem(p);
    t.AddRow(
        {p.endpoint, problem.empty() ? "yes" : "no",
         absl::FormatDuration(absl::Trunc(p.took, absl::Microseconds(100))),
         problem});
  }
  t.Print(std::cout);
}

absl::Status Health(Env& env, const Operands&) {
  std::vector<Probe> probes = ProbeEach(env.client, env.endpoints);
  Print(env.format, probes);
  std::vector<std::string> unhealthy;
  for (const Probe& p : probes) {
    // A refused key is the caller's problem, not the endpoint's: exit 3.
    if (!p.status.ok() && ExitCodeOf(p.status.status()) == kAuth) {
      return p.status.status();
    }
    if (!Problem(p).empty()) unhealthy.push_back(p.endpoint);
  }
  if (unhealthy.empty()) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("unhealthy: ", absl::StrJoin(unhealthy, ", ")));
}

}  // namespace

std::vector<Command> EndpointCommands() {
  return {{"endpoint health",
           "",
           "ask each endpoint for its status: healthy when it answers, is a "
           "member and knows a leader",
           {},
           0,
           0,
           Health}};
}

}  // namespace concordance::ctl
