// KvService: the KV API (gateway::KvApi) of a node. It checks each request
// once (access first, then concordance/request_rules.h), turns writes into
// kv.Commands carrying the leader's timestamp and the writer's identity,
// proposes them through the NodeDriver, and serves reads from the local
// KvStore — directly, after a ReadIndex round (linearizable), or once a
// changelog seq is applied here (min_seq). Credentials are sealed and opened
// by a CredentialView.
//
// A node removed from the cluster answers every read and write with
// Unavailable ("removed from the cluster").
#ifndef CONCORDANCE_CONCORDANCE_KV_SERVICE_H_
#define CONCORDANCE_CONCORDANCE_KV_SERVICE_H_

#include <string>
#include <vector>

#include "concordance/clock.h"
#include "concordance/credential_view.h"
#include "concordance/node_driver.h"
#include "concordance/request_rules.h"
#include "gateway/api.h"
#include "storage/kv_store.h"
#include "storage/validation.h"

namespace concordance {

class KvService : public gateway::KvApi {
 public:
  struct Options {
    storage::Limits limits;
    int min_seq_timeout_ms = 5000;
    // List pages stop at about this many bytes (`next` continues).
    size_t max_page_bytes = 4 << 20;
  };
  // Not owned; all outlive the service.
  KvService(Options options, storage::KvStore* store, NodeDriver* driver,
            const CredentialView* credentials, const Clock* clock);

  void Get(const gateway::Caller& caller, const v1::GetRequest& req,
           gateway::Callback<v1::Entry> done) override;
  void Put(const gateway::Caller& caller, const v1::PutRequest& req,
           gateway::Callback<v1::PutResponse> done) override;
  void Delete(const gateway::Caller& caller, const v1::DeleteRequest& req,
              gateway::Callback<v1::DeleteResponse> done) override;
  void List(const gateway::Caller& caller, const v1::ListRequest& req,
            gateway::Callback<v1::ListResponse> done) override;
  void Batch(const gateway::Caller& caller, const v1::BatchRequest& req,
             gateway::Callback<v1::BatchResponse> done) override;

 private:
  // Runs `read` once the read options are satisfied, else `fail`.
  void AfterReadBarrier(const ReadOptions& opts, std::function<void()> read,
                        std::function<void(absl::Status)> fail);
  // A set (Put or a batch's set op) as the op of a command: checked,
  // sealed, with its expiry resolved against `now`.
  absl::StatusOr<kv::SetOp> BuildSet(const std::string& ns, const std::string& key,
                                     const std::string& value,
                                     const std::optional<int64_t>& expected_version,
                                     const std::optional<int64_t>& ttl_ms,
                                     const std::optional<int64_t>& expires_at, int64_t now) const;
  absl::StatusOr<kv::DeleteOp> BuildDelete(const std::string& ns, const std::string& key,
                                           const std::optional<int64_t>& expected_version) const;
  absl::Status BuildBatch(const v1::BatchRequest& req, int64_t now, kv::Command* cmd) const;

  Options options_;
  storage::KvStore* store_;
  NodeDriver* driver_;
  const CredentialView* credentials_;
  const Clock* clock_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_KV_SERVICE_H_
