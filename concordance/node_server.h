// NodeServer: the composition root. Builds every piece of a node from its
// options — listener, stores, hub, FSM, Raft driver, peer transport,
// service, authenticator, gateway — wires them by constructor injection,
// and starts and stops them in order.
//
// Start() follows design.md §14: it checks the options and binds the port
// before it creates or changes anything in the data dir, so a port in use
// or an unusable address fails at once and leaves the data dir untouched.
#ifndef CONCORDANCE_CONCORDANCE_NODE_SERVER_H_
#define CONCORDANCE_CONCORDANCE_NODE_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "concordance/clock.h"
#include "concordance/node_driver.h"
#include "gateway/api.h"
#include "gateway/auth.h"
#include "gateway/server.h"
#include "storage/validation.h"

namespace concordance {

struct NodeOptions {
  std::string node_id;    // "" = the one recorded in the data dir, else "node1"
  std::string listen = "127.0.0.1:4100";
  std::string advertise;  // "" = the listen address
  std::string data_dir = "./data";
  bool bootstrap = false;
  // With bootstrap on an empty data dir: a backup (GET /api/v1/snapshot) to
  // start the new cluster from.
  std::string restore_from;
  std::string join;       // host:port of a member
  gateway::Keys keys;
  gateway::TlsFiles tls;  // TLS on the port and on peer links when enabled()
  int election_timeout_min_ms = 150;
  int election_timeout_max_ms = 300;
  int heartbeat_ms = 50;
  int tick_ms = 10;
  int max_entries_per_append = 100;
  uint64_t snapshot_threshold = 10000;
  uint64_t max_snapshot_bytes = uint64_t{1} << 30;
  int proposal_timeout_ms = 5000;
  int min_seq_timeout_ms = 5000;
  int64_t changelog_retention = 100000;
  std::string encryption_key_file;
  int io_threads = 2;
  storage::Limits limits;
  size_t max_page_bytes = 4 << 20;
  size_t ws_send_queue_messages = 4096;
  int grpc_idle_timeout_ms = 5 * 60 * 1000;
  int peer_warning_interval_ms = 10000;
  // Writes are refused while the data dir's filesystem has less free (0:
  // never refused; a full disk then stops the node).
  uint64_t min_free_disk_bytes = 64 << 20;
  size_t ws_send_queue_bytes = 64 << 20;
  size_t max_connections = 10000;
  size_t max_peer_connections = 64;
  size_t raft_inbox_messages = 4096;
};

class NodeServer {
 public:
  explicit NodeServer(NodeOptions options);
  ~NodeServer();

  // Opens the data dir and starts serving. Errors are for the operator.
  absl::Status Start();
  // Graceful: a leader hands leadership over; then it stops the listener,
  // answers in-flight requests (the /raft links still up so they can
  // commit), ends watches, closes WebSockets, stops Raft, closes the
  // databases.
  void Stop();
  uint16_t port() const;
  // Set when the node met an error it cannot go on from (e.g. the cluster
  // refused its key when joining); the process should stop.
  std::optional<absl::Status> fatal() const;
  // Re-reads the TLS certificate, key and CA files (SIGHUP): new
  // connections use them, open ones are kept. On error the old ones stay.
  absl::Status ReloadTls();

 private:
  absl::Status CheckOptions();
  absl::Status Listen();
  absl::Status OpenDataDir();
  absl::Status OpenStores();  // the three steps below
  absl::Status OpenCipher();
  absl::Status OpenStateDb();
  absl::Status InitializeCluster();
  absl::Status RestoreBackup(const raft::Member& self);
  absl::Status StartNode();
  absl::Status StartServing();
  void BuildServices();
  gateway::Api Api() const;
  DriverOptions DriverOptionsFor(uint64_t seed);

  // Stop's first step on a leader: transfer to the most caught-up voter.
  void HandOffLeadership();

  struct Parts;
  NodeOptions options_;
  std::unique_ptr<Parts> parts_;
  mutable absl::Mutex fatal_mu_;
  std::optional<absl::Status> fatal_ ABSL_GUARDED_BY(fatal_mu_);
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_NODE_SERVER_H_
