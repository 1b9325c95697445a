// KvService: the node as the gateway sees it (gateway::Backend). It
// validates requests (storage/validation.h), turns writes into kv.Commands
// carrying the leader's timestamp and the writer's identity, proposes them
// through the NodeDriver, and serves reads from the local KvStore —
// directly, after a ReadIndex round (consistency=linearizable), or once a
// changelog seq is applied here (minSeq). Credentials are sealed and opened
// by a CredentialView, long-polls run in a ChangesPoller, the state hash
// comes from a StateHasher and backups are serialized on the maintenance
// worker, never on the Raft loop.
//
// A node removed from the cluster answers every read and write with
// Unavailable ("removed from the cluster") and is not ready.
#ifndef CONCORDANCE_CONCORDANCE_KV_SERVICE_H_
#define CONCORDANCE_CONCORDANCE_KV_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>

#include "concordance/changes_poller.h"
#include "concordance/clock.h"
#include "concordance/credential_view.h"
#include "concordance/hub.h"
#include "concordance/node_driver.h"
#include "concordance/state_hasher.h"
#include "concordance/worker.h"
#include "gateway/backend.h"
#include "storage/crypto.h"
#include "storage/kv_store.h"
#include "storage/validation.h"
#include "util/metrics.h"

namespace concordance {

class KvService : public gateway::Backend {
 public:
  struct Options {
    storage::Limits limits;
    int min_seq_timeout_ms = 5000;
    // List and changes pages stop at about this many bytes (`next`,
    // `nextSeq` continue).
    size_t max_page_bytes = 4 << 20;
    // Encrypts values in credentials namespaces (nullptr: such writes are
    // refused). Not owned.
    const storage::CredentialCipher* cipher = nullptr;
  };
  KvService(Options options, storage::KvStore* store, NodeDriver* driver, Hub* hub,
            Worker* maintenance, const Clock* clock, metrics::Registry* metrics);

  void Get(const gateway::GetRequest& req, gateway::Callback<v1::Entry> done) override;
  void List(const gateway::ListRequest& req, gateway::Callback<gateway::ListResult> done) override;
  void Set(const gateway::SetRequest& req, const std::string& actor,
           gateway::Callback<gateway::SetResult> done) override;
  void Delete(const gateway::DeleteRequest& req, const std::string& actor,
              gateway::Callback<gateway::DeleteResult> done) override;
  void Batch(const std::vector<gateway::BatchOp>& ops, const std::string& actor,
             gateway::Callback<gateway::BatchResult> done) override;
  void Changes(const gateway::ChangesRequest& req,
               gateway::Callback<gateway::ChangesResult> done) override;
  void Subscribe(const gateway::SubscribeRequest& req, std::shared_ptr<gateway::ChangeSink> sink,
                 gateway::Callback<gateway::SubscribeResult> done) override;
  void Unsubscribe(const std::string& id) override;
  gateway::ClusterStatus Status() override;
  void StatusWithHash(gateway::Callback<gateway::ClusterStatus> done) override;
  bool Ready(std::string* why) override;
  void Join(const std::string& node_id, const std::string& address,
            gateway::Callback<gateway::ClusterStatus> done) override;
  void Remove(const std::string& node_id, gateway::Callback<gateway::ClusterStatus> done) override;
  void TransferLeadership(const std::string& node_id,
                          gateway::Callback<gateway::ClusterStatus> done) override;
  void Snapshot(gateway::Callback<std::string> done) override;
  std::string MetricsText() override { return metrics_->Render(); }

 private:
  // A completion for a cluster change: the error, or this node's status.
  std::function<void(absl::Status)> StatusReply(gateway::Callback<gateway::ClusterStatus> done);
  // Runs `read` once the read options are satisfied.
  void AfterReadBarrier(const gateway::ReadOptions& opts, std::function<void()> read,
                        std::function<void(absl::Status)> fail);
  absl::Status ValidateSet(const gateway::SetRequest& req, int64_t now, int64_t* expires_at) const;
  // Unavailable when this node was removed from the cluster.
  absl::Status CheckMember() const;
  absl::Status BuildBatch(const std::vector<gateway::BatchOp>& ops, int64_t now,
                          kv::Command* cmd, std::vector<int64_t>* expiries) const;

  Options options_;
  storage::KvStore* store_;
  NodeDriver* driver_;
  Hub* hub_;
  Worker* maintenance_;
  const Clock* clock_;
  metrics::Registry* metrics_;
  CredentialView credentials_;
  ChangesPoller poller_;
  StateHasher hasher_;
  static constexpr int kMaxQueuedBackups = 2;
  std::atomic<int> backups_queued_{0};
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_KV_SERVICE_H_
