// member list, add, remove, transfer: the Cluster service's membership
// calls (sent to the leader by the client library).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "tools/ctl/command.h"
#include "tools/ctl/records.h"
#include "tools/ctl/table.h"

namespace concordance::ctl {
namespace {

// The configuration as the leader sees it (it knows match indexes and
// reachability), else as whichever node answers.
absl::StatusOr<v1::StatusResponse> LeaderView(client::Client& c) {
  absl::StatusOr<v1::StatusResponse> any = c.Status();
  if (!any.ok() || any->role() == "leader" || !any->has_leader()) return any;
  absl::StatusOr<v1::StatusResponse> leader = c.Status(any->leader().address());
  return leader.ok() ? leader : any;
}

void WritePeers(JsonWriter& w, const v1::StatusResponse& s) {
  w.StartObject();
  w.Key("leader");
  WriteLeader(w, s);
  w.Key("members");
  w.StartArray();
  for (const v1::Peer& p : s.peers()) {
    w.StartObject();
    w.Key("nodeId");
    WriteString(w, p.node_id());
    w.Key("address");
    WriteString(w, p.address());
    w.Key("voter");
    w.Bool(p.voter());
    w.Key("matchIndex");
    w.Uint64(p.match_index());
    w.Key("reachable");
    w.Bool(p.reachable());
    w.Key("version");
    WriteString(w, p.version());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// The members in `s` (a Status answer, or the configuration a change made).
void PrintMembers(Format format, const v1::StatusResponse& s) {
  if (format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) { WritePeers(w, s); }) << "\n";
    return;
  }
  Table t(
      {"ID", "ADDRESS", "VOTER", "LEADER", "MATCH", "REACHABLE", "VERSION"});
  for (const v1::Peer& p : s.peers()) {
    bool leads = s.has_leader() && s.leader().node_id() == p.node_id();
    t.AddRow({p.node_id(), p.address(), p.voter() ? "voter" : "learner",
              leads ? "*" : "", absl::StrCat(p.match_index()),
              p.reachable() ? "yes" : "no",
              p.version().empty() ? "-" : p.version()});
  }
  t.Print(std::cout);
}

absl::Status Print(Env& env, const absl::StatusOr<v1::StatusResponse>& s) {
  if (!s.ok()) return s.status();
  PrintMembers(env.format, *s);
  return absl::OkStatus();
}

absl::Status List(Env& env, const Operands&) {
  return Print(env, LeaderView(env.client));
}

absl::Status Add(Env& env, const Operands& a) {
  v1::JoinRequest req;
  req.set_node_id(a[0]);
  req.set_address(a[1]);
  return Print(env, env.client.Join(req));
}

absl::Status Remove(Env& env, const Operands& a) {
  v1::RemoveRequest req;
  req.set_node_id(a[0]);
  return Print(env, env.client.Remove(req));
}

absl::Status Transfer(Env& env, const Operands& a) {
  v1::TransferLeadershipRequest req;
  if (!a.empty()) req.set_node_id(a[0]);
  absl::StatusOr<v1::StatusResponse> s = env.client.TransferLeadership(req);
  if (!s.ok()) return s.status();
  if (env.format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) {
      w.StartObject();
      w.Key("leader");
      WriteLeader(w, *s);
      w.EndObject();
    }) << "\n";
  } else if (s->has_leader()) {
    std::cout << "leader: " << s->leader().node_id() << " ("
              << s->leader().address() << ")\n";
  } else {
    std::cout << "leader: -\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> MemberCommands() {
  return {
      {"member list",
       "",
       "the members as the leader sees them",
       {},
       0,
       0,
       List},
      {"member add",
       "ID ADDRESS",
       "add a node (as a learner, promoted once caught up)",
       {},
       2,
       2,
       Add},
      {"member remove", "ID", "remove a member", {}, 1, 1, Remove},
      {"member transfer",
       "[ID]",
       "hand leadership to ID (default: the most caught-up voter); prints "
       "the new leader",
       {},
       0,
       1,
       Transfer},
  };
}

}  // namespace concordance::ctl
