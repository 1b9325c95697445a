// KvService: the node as the gateway sees it (gateway::Backend). It
// validates requests (storage/validation.h), turns writes into kv.Commands
// carrying the leader's timestamp and the writer's identity, proposes them
// through the NodeDriver, and serves reads from the local KvStore —
// directly, after a ReadIndex round (consistency=linearizable), or once a
// changelog seq is applied here (minSeq).
#ifndef CONCORDANCE_CONCORDANCE_KV_SERVICE_H_
#define CONCORDANCE_CONCORDANCE_KV_SERVICE_H_

#include <memory>
#include <string>

#include "concordance/clock.h"
#include "concordance/hub.h"
#include "concordance/node_driver.h"
#include "gateway/backend.h"
#include "storage/crypto.h"
#include "storage/kv_store.h"
#include "storage/validation.h"
#include "util/metrics.h"

namespace concordance {

// Handles inbound /raft traffic (see Backend::PeerConnected); the peer
// manager implements it.
class PeerHandler {
 public:
  virtual ~PeerHandler() = default;
  virtual bool Connected(uint64_t link, const std::string& node_id,
                         const std::string& address) = 0;
  virtual void Text(uint64_t link, const std::string& node_id, std::string json) = 0;
  virtual void Binary(uint64_t link, const std::string& node_id, std::string bytes) = 0;
  virtual void Disconnected(uint64_t link, const std::string& node_id) = 0;
};

class KvService : public gateway::Backend {
 public:
  struct Options {
    storage::Limits limits;
    int min_seq_timeout_ms = 5000;
    // Encrypts values in credentials namespaces (nullptr: such writes are
    // refused). Not owned.
    const storage::CredentialCipher* cipher = nullptr;
  };
  KvService(Options options, storage::KvStore* store, NodeDriver* driver, Hub* hub,
            const Clock* clock, metrics::Registry* metrics);

  void set_peer_handler(PeerHandler* p) { peers_ = p; }
  void set_transport(const Transport* t) { transport_ = t; }

  void Get(const gateway::GetRequest& req, gateway::Callback<kv::KvEntry> done) override;
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
  gateway::ClusterStatus Status(bool with_state_hash) override;
  bool Ready(std::string* why) override;
  void Join(const std::string& node_id, const std::string& address,
            gateway::Callback<gateway::ClusterStatus> done) override;
  void Remove(const std::string& node_id, gateway::Callback<gateway::ClusterStatus> done) override;
  void TransferLeadership(const std::string& node_id,
                          gateway::Callback<gateway::ClusterStatus> done) override;
  void Snapshot(gateway::Callback<std::string> done) override;
  bool PeerConnected(uint64_t link, const std::string& node_id,
                     const std::string& address) override;
  void PeerText(uint64_t link, const std::string& node_id, std::string json) override;
  void PeerBinary(uint64_t link, const std::string& node_id, std::string bytes) override;
  void PeerDisconnected(uint64_t link, const std::string& node_id) override;
  std::string MetricsText() override { return metrics_->Render(); }

 private:
  // A completion for a cluster change: the error, or this node's status.
  std::function<void(absl::Status)> StatusReply(gateway::Callback<gateway::ClusterStatus> done);
  // Runs `read` once the read options are satisfied.
  void AfterReadBarrier(const gateway::ReadOptions& opts, std::function<void()> read,
                        std::function<void(absl::Status)> fail);
  absl::Status ValidateSet(const gateway::SetRequest& req, int64_t now, int64_t* expires_at) const;
  // The value as stored: encrypted for credentials namespaces.
  absl::StatusOr<std::string> Seal(const std::string& ns, const std::string& key,
                                   const std::string& value_json) const;
  // A stored value as clients see it: decrypted where it was encrypted.
  absl::Status Reveal(const std::string& ns, const std::string& key, std::string* value) const;
  void QueryChanges(std::shared_ptr<struct LongPoll> poll);

  Options options_;
  storage::KvStore* store_;
  NodeDriver* driver_;
  Hub* hub_;
  const Clock* clock_;
  metrics::Registry* metrics_;
  PeerHandler* peers_ = nullptr;
  const Transport* transport_ = nullptr;
  metrics::Gauge* long_polls_waiting_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_KV_SERVICE_H_
