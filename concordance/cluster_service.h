// ClusterService: the Cluster API (gateway::ClusterApi) — status, readiness
// and membership changes (join, remove, transfer-leadership). Membership
// changes go through the Raft log; a join with a member's id and another
// address updates its address (design.md §14).
#ifndef CONCORDANCE_CONCORDANCE_CLUSTER_SERVICE_H_
#define CONCORDANCE_CONCORDANCE_CLUSTER_SERVICE_H_

#include "concordance/node_driver.h"
#include "concordance/state_hasher.h"
#include "gateway/api.h"

namespace concordance {

class ClusterService : public gateway::ClusterApi {
 public:
  // Not owned.
  ClusterService(NodeDriver* driver, StateHasher* hasher) : driver_(driver), hasher_(hasher) {}

  void Status(const gateway::Caller& caller, gateway::Callback<v1::StatusResponse> done) override;
  v1::StatusResponse LocalStatus() override;
  bool Ready(std::string* why) override;
  void Join(const gateway::Caller& caller, const v1::JoinRequest& req,
            gateway::Callback<v1::StatusResponse> done) override;
  void Remove(const gateway::Caller& caller, const v1::RemoveRequest& req,
              gateway::Callback<v1::StatusResponse> done) override;
  void TransferLeadership(const gateway::Caller& caller,
                          const v1::TransferLeadershipRequest& req,
                          gateway::Callback<v1::StatusResponse> done) override;

 private:
  // A completion for a cluster change: the error, or this node's status.
  std::function<void(absl::Status)> StatusReply(gateway::Callback<v1::StatusResponse> done);

  NodeDriver* driver_;
  StateHasher* hasher_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_CLUSTER_SERVICE_H_
