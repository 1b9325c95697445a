#include "concordance/cluster_service.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "storage/validation.h"
#include "util/version.h"

namespace concordance {

using gateway::Method;

namespace {

const char* RoleString(const NodeStatus& s) {
  switch (s.role) {
    case raft::Role::kLeader:
      return "leader";
    case raft::Role::kCandidate:
    case raft::Role::kPreCandidate:
      return "candidate";
    case raft::Role::kFollower:
      return s.voter ? "follower" : "learner";
  }
  return "follower";
}

}  // namespace

v1::StatusResponse ClusterService::LocalStatus() {
  NodeStatus n = driver_->Status();
  v1::StatusResponse s;
  s.set_node_id(n.node_id);
  s.set_role(RoleString(n));
  s.set_removed(n.removed);
  if (!n.leader_id.empty()) {
    s.mutable_leader()->set_node_id(n.leader_id);
    s.mutable_leader()->set_address(n.leader_address);
  }
  s.set_term(n.term);
  s.set_commit_index(n.commit_index);
  s.set_applied_index(n.applied_index);
  s.set_version(Version());
  for (const raft::MemberStatus& m : n.members) {
    v1::Peer* p = s.add_peers();
    p->set_node_id(m.member.node_id());
    p->set_address(m.member.address());
    p->set_voter(m.voter);
    bool self = m.member.node_id() == n.node_id;
    p->set_match_index(self ? n.last_index : m.match);
    p->set_reachable(self || m.recent_active || driver_->transport()->Reachable(p->node_id()));
    p->set_version(self ? Version() : driver_->transport()->PeerVersion(p->node_id()));
  }
  return s;
}

void ClusterService::Status(const gateway::Caller& caller,
                            gateway::Callback<v1::StatusResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kStatus);
  if (!s.ok()) return done(s);
  hasher_->Get([this, done = std::move(done)](absl::StatusOr<StateHash> hash) {
    v1::StatusResponse status = LocalStatus();
    if (hash.ok()) {
      status.set_applied_index(hash->applied_index);  // the index the hash is of
      status.set_state_hash(hash->hash);
    }
    done(std::move(status));
  });
}

bool ClusterService::Ready(std::string* why) {
  NodeStatus n = driver_->Status();
  if (n.removed) {
    *why = "this node was removed from the cluster";
    return false;
  }
  if (n.leader_id.empty()) {
    *why = "no leader is known";
    return false;
  }
  if (n.role == raft::Role::kLeader && !n.leader_committed_in_term) {
    *why = "the new leader has not committed an entry of its term yet";
    return false;
  }
  if (n.applied_index < n.commit_index) {
    *why = absl::StrCat("applied ", n.applied_index, " of ", n.commit_index, " committed entries");
    return false;
  }
  return true;
}

std::function<void(absl::Status)> ClusterService::StatusReply(
    gateway::Callback<v1::StatusResponse> done) {
  return [this, done = std::move(done)](absl::Status s) {
    if (!s.ok()) return done(s);
    done(LocalStatus());
  };
}

void ClusterService::Join(const gateway::Caller& caller, const v1::JoinRequest& req,
                          gateway::Callback<v1::StatusResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kJoin);
  if (s.ok()) s = storage::ValidateNodeId(req.node_id());
  if (s.ok()) s = storage::ValidateAddress(req.address());
  if (!s.ok()) return done(s);
  NodeStatus n = driver_->Status();
  raft::Member member;
  member.set_node_id(req.node_id());
  member.set_address(req.address());
  for (const raft::MemberStatus& m : n.members) {
    if (m.member.node_id() != req.node_id()) continue;
    if (m.member.address() == req.address()) return done(LocalStatus());  // idempotent
    // A member restarted with another --advertise: its address changes
    // through the log, so peers and redirects follow it.
    LOG(WARNING) << "member " << req.node_id() << " moves from " << m.member.address() << " to "
                 << req.address();
    return driver_->ProposeConfChange(raft::ConfChange::UPDATE_ADDRESS, member,
                                      StatusReply(std::move(done)));
  }
  driver_->ProposeConfChange(raft::ConfChange::ADD_LEARNER, member, StatusReply(std::move(done)));
}

void ClusterService::Remove(const gateway::Caller& caller, const v1::RemoveRequest& req,
                            gateway::Callback<v1::StatusResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kRemove);
  if (s.ok()) s = storage::ValidateNodeId(req.node_id());
  if (!s.ok()) return done(s);
  raft::Member member;
  member.set_node_id(req.node_id());
  driver_->ProposeConfChange(raft::ConfChange::REMOVE, member, StatusReply(std::move(done)));
}

void ClusterService::TransferLeadership(const gateway::Caller& caller,
                                        const v1::TransferLeadershipRequest& req,
                                        gateway::Callback<v1::StatusResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kTransferLeadership);
  if (s.ok() && !req.node_id().empty()) s = storage::ValidateNodeId(req.node_id());
  if (!s.ok()) return done(s);
  driver_->TransferLeadership(req.node_id(), StatusReply(std::move(done)));
}

}  // namespace concordance
