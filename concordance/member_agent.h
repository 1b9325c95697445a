// MemberAgent: what a starting node asks of its cluster, on its own thread.
//
//   - With --join: to be added (as a learner, promoted once caught up).
//     Idempotent, so a restarted member just confirms its membership.
//   - When the configuration records this node at another address than
//     --advertise (it was restarted with a new one): to have its address
//     updated through the log, so peers and redirects use the new one.
//
// It asks through --join, else through the other members it knows (a
// follower redirects to the leader), retrying with backoff while the
// cluster cannot answer. A refusal that retrying cannot fix — a wrong key
// (401/403) or an invalid request (400) — is reported through `on_fatal`,
// and the agent gives up.
#ifndef CONCORDANCE_CONCORDANCE_MEMBER_AGENT_H_
#define CONCORDANCE_CONCORDANCE_MEMBER_AGENT_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "concordance/node_driver.h"
#include "gateway/tls.h"

namespace concordance {

class MemberAgent {
 public:
  struct Options {
    std::string node_id;
    std::string advertise;
    std::string join;     // host:port, or "" (then only address updates)
    std::string api_key;  // sent as the bearer token, if set
    std::shared_ptr<gateway::TlsContexts> tls;  // https:// when set
  };
  MemberAgent(Options options, NodeDriver* driver, std::function<void(absl::Status)> on_fatal);
  ~MemberAgent();

  void Start();
  void Stop();

 private:
  void Run();
  // Whether the cluster needs to hear from us: joining, or our address
  // changed. Fills the targets to ask.
  bool NeedsRequest(std::vector<std::string>* targets) const;
  // One POST /api/v1/cluster/join through `target`, following redirects.
  // OK, a retryable error, or (with *permanent) one that is not.
  absl::Status Ask(const std::string& target, bool* permanent) const;
  bool Sleep(int ms);  // false when stopping
  bool Stopping() const;

  Options options_;
  NodeDriver* driver_;
  std::function<void(absl::Status)> on_fatal_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool joined_ = false;  // the join request (if any) succeeded
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_MEMBER_AGENT_H_
