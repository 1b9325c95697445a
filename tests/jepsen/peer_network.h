// PeerNetwork: a fault-injecting TCP proxy in front of every node's /raft
// links, so a test can partition, bridge, cut one direction of, or delay
// the traffic between real `concordance` processes without privileges.
//
// Each node advertises its own proxy (--advertise), so its peers dial the
// proxy; the proxy reads the WebSocket upgrade (`GET /raft?nodeId=FROM`) to
// learn which member is dialing, and forwards to the node's real port.
// Messages from A to B travel only on the link A dials to B (B answers on
// its own link to A), so blocking the directed link A→B loses exactly A's
// messages to B. Anything that is not /raft (clients following a redirect
// to the advertised address) passes through untouched.
//
// A blocked link behaves as a network that drops packets: bytes are
// swallowed, nothing is refused or reset, and the sender learns only by its
// own timeouts. TCP cannot lose or reorder bytes inside a connection, so
// when the link heals its black-holed connections are closed and the
// sender dials again. Delay holds each chunk for `base + U[0, jitter]`
// while keeping the order within a connection; messages reorder only
// across a reconnect (arbitrary reordering is the simulator's job).
//
// Thread-safe.
#ifndef CONCORDANCE_TESTS_JEPSEN_PEER_NETWORK_H_
#define CONCORDANCE_TESTS_JEPSEN_PEER_NETWORK_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace concordance::jepsen {

class PeerNetwork {
 public:
  PeerNetwork();
  ~PeerNetwork();

  // Opens a proxy for member `id` that forwards to 127.0.0.1:`port`;
  // returns the flag the node starts with (--advertise=127.0.0.1:P).
  std::string Add(const std::string& id, int port);

  // Directed: `from`'s messages to `to` are lost until healed.
  void Block(const std::string& from, const std::string& to);
  // Both directions between every member of `a` and every member of `b`.
  void Partition(const std::vector<std::string>& a,
                 const std::vector<std::string>& b);
  // Every link works again; black-holed connections are closed.
  void Heal();
  // Every /raft chunk is held for base + U[0, jitter] (0, 0: none).
  void SetDelay(std::chrono::milliseconds base,
                std::chrono::milliseconds jitter);

  // Counters for the test's report.
  int64_t connections() const { return connections_.load(); }
  int64_t swallowed_bytes() const { return swallowed_.load(); }

 private:
  struct Proxy;
  class Connection;

  bool Blocked(const std::string& from, const std::string& to) const;
  std::chrono::microseconds NextDelay();
  void AcceptLoop(Proxy* proxy);

  mutable absl::Mutex mu_;
  std::set<std::pair<std::string, std::string>> blocked_ ABSL_GUARDED_BY(mu_);
  std::chrono::milliseconds delay_ ABSL_GUARDED_BY(mu_){0};
  std::chrono::milliseconds jitter_ ABSL_GUARDED_BY(mu_){0};
  std::minstd_rand rng_ ABSL_GUARDED_BY(mu_){42};

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> swallowed_{0};
  absl::Mutex threads_mu_;
  std::vector<std::unique_ptr<Proxy>> proxies_ ABSL_GUARDED_BY(threads_mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(threads_mu_);
};

}  // namespace concordance::jepsen

#endif  // CONCORDANCE_TESTS_JEPSEN_PEER_NETWORK_H_
