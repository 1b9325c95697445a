// cluster status: every member as each sees itself (Cluster.Status asked
// of every endpoint and every member address learned), with its lag behind
// the leader. Fails (unavailable) when no leader is known or a member does
// not answer, after printing the table.
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/ctl/command.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/probe.h"
#include "tools/ctl/records.h"
#include "tools/ctl/table.h"

namespace concordance::ctl {
namespace {

struct Row {
  std::string id, address, role = "-", version = "-";
  std::optional<uint64_t> term, commit, applied, lag;
  absl::Status error;  // OK: it answered
};

// The members: the leader's configuration, else every member any answer
// names (by id, first seen first).
std::vector<v1::Peer> Members(const std::vector<Probe>& probes,
                              const v1::StatusResponse* leader) {
  if (leader) return {leader->peers().begin(), leader->peers().end()};
  std::vector<v1::Peer> out;
  for (const Probe& p : probes) {
    if (!p.status.ok()) continue;
    for (const v1::Peer& peer : p.status->peers()) {
      auto same = [&](const v1::Peer& q) {
        return q.node_id() == peer.node_id();
      };
      if (std::none_of(out.begin(), out.end(), same)) out.push_back(peer);
    }
  }
  return out;
}

// The probe of `peer`: the answer with its id, else the one at its address.
const Probe* ProbeOf(const std::vector<Probe>& probes, const v1::Peer& peer) {
  for (const Probe& p : probes) {
    if (p.status.ok() && p.status->node_id() == peer.node_id()) return &p;
  }
  for (const Probe& p : probes) {
    if (p.endpoint == peer.address()) return &p;
  }
  return nullptr;
}

Row MemberRow(const v1::Peer& peer, const Probe* probe,
              const v1::StatusResponse* leader) {
  Row r{peer.node_id(), peer.address()};
  if (!peer.version().empty()) r.version = peer.version();
  uint64_t caught_up = peer.match_index();  // the leader's view
  if (probe && probe->status.ok()) {
    const v1::StatusResponse& s = *probe->status;
    r.role = s.removed() ? "removed" : s.role();
    r.term = s.term();
    r.commit = s.commit_index();
    r.applied = caught_up = s.applied_index();
    if (!s.version().empty()) r.version = s.version();
  } else {
    r.error = probe ? probe->status.status() : absl::UnknownError("not asked");
  }
  if (leader && (r.applied || caught_up > 0)) {
    r.lag = leader->commit_index() > caught_up
                ? leader->commit_index() - caught_up
                : 0;
  }
  return r;
}

// Endpoints given that are no member's (a wrong address, a removed node).
void AddStrays(const std::vector<Probe>& probes,
               const std::vector<v1::Peer>& members, std::vector<Row>* rows) {
  for (const Probe& p : probes) {
    bool member =
        std::any_of(members.begin(), members.end(), [&](const v1::Peer& m) {
          return p.status.ok() ? m.node_id() == p.status->node_id()
                               : m.address() == p.endpoint;
        });
    if (member) continue;
    Row r{p.status.ok() ? p.status->node_id() : "?", p.endpoint};
    if (p.status.ok()) {
      r.role = p.status->removed() ? "removed" : "not a member";
    } else {
      r.error = p.status.status();
    }
    rows->push_back(r);
  }
}

std::string Num(const std::optional<uint64_t>& v) {
  return v ? absl::StrCat(*v) : "-";
}

void PrintTable(const std::vector<Row>& rows) {
  Table t({"ID", "ADDRESS", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG",
           "VERSION", "REACHABLE"});
  for (const Row& r : rows) {
    t.AddRow({r.id, r.address, r.role, Num(r.term), Num(r.commit),
              Num(r.applied), Num(r.lag), r.version,
              r.error.ok() ? "yes" : "no"});
  }
  t.Print(std::cout);
}

void WriteNum(JsonWriter& w, const char* name,
              const std::optional<uint64_t>& v) {
  w.Key(name);
  if (v) {
    w.Uint64(*v);
  } else {
    w.Null();
  }
}

void PrintJson(const std::vector<Row>& rows, const v1::StatusResponse* leader) {
  std::cout << Json([&](JsonWriter& w) {
    w.StartObject();
    w.Key("leader");
    if (leader) {
      WriteLeader(w, *leader);
    } else {
      w.Null();
    }
    w.Key("members");
    w.StartArray();
    for (const Row& r : rows) {
      w.StartObject();
      w.Key("nodeId");
      WriteString(w, r.id);
      w.Key("address");
      WriteString(w, r.address);
      w.Key("role");
      WriteString(w, r.role);
      WriteNum(w, "term", r.term);
      WriteNum(w, "commitIndex", r.commit);
      WriteNum(w, "appliedIndex", r.applied);
      WriteNum(w, "lag", r.lag);
      w.Key("version");
      WriteString(w, r.version);
      w.Key("reachable");
      w.Bool(r.error.ok());
      if (!r.error.ok()) {
        w.Key("error");
        WriteString(w, Describe(r.error));
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }) << "\n";
}

// What is wrong, if anything: no leader, members that did not answer.
absl::Status Verdict(const std::vector<Row>& rows, bool leader) {
  // A refused key is no outage: say so, with its own exit code.
  for (const Row& r : rows) {
    if (!r.error.ok() && ExitCodeOf(r.error) == kAuth) return r.error;
  }
  std::vector<std::string> problems;
  if (!leader) problems.push_back("no leader known");
  for (const Row& r : rows) {
    if (!r.error.ok()) {
      problems.push_back(absl::StrCat(r.id, " (", r.address,
                                      ") unreachable: ", r.error.message()));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(problems, "; "));
}

absl::Status Status(Env& env, const Operands&) {
  std::vector<Probe> probes = ProbeCluster(env.client, env.endpoints);
  const v1::StatusResponse* leader = LeaderAnswer(probes);
  std::vector<v1::Peer> members = Members(probes, leader);
  std::vector<Row> rows;
  for (const v1::Peer& m : members) {
    rows.push_back(MemberRow(m, ProbeOf(probes, m), leader));
  }
  AddStrays(probes, members, &rows);
  if (env.format == Format::kJson) {
    PrintJson(rows, leader);
  } else {
    PrintTable(rows);
  }
  return Verdict(rows, leader != nullptr);
}

}  // namespace

std::vector<Command> ClusterCommands() {
  return {{"cluster status",
           "",
           "every member's role, term, indexes, lag behind the leader, "
           "version and reachability (asks every endpoint and member)",
           {},
           0,
           0,
           Status}};
}

}  // namespace concordance::ctl
