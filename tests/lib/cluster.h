// TestCluster: N real `concordance` processes on loopback ports, formed the
// way an operator would (seed 003): the first with --bootstrap, the others
// with --join. Helpers poll the nodes' status with deadlines.
#ifndef CONCORDANCE_TESTS_LIB_CLUSTER_H_
#define CONCORDANCE_TESTS_LIB_CLUSTER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/lib/node.h"

namespace concordance::testing {

class TestCluster {
 public:
  static constexpr char kApiKey[] = "cluster-api-key";

  // `extra` flags go to every node.
  explicit TestCluster(std::vector<std::string> extra = {});
  ~TestCluster();

  // Flags for one node, asked before it first starts (given its id and
  // port); kept for its restarts. For example its own --advertise.
  using PerNodeFlags = std::function<std::vector<std::string>(const std::string& id, int port)>;
  void set_per_node_flags(PerNodeFlags f) { per_node_flags_ = std::move(f); }
  // Environment (NAME=value) for one node, asked the same way: for
  // example a skewed clock through libfaketime.
  using PerNodeEnv = std::function<std::vector<std::string>(const std::string& id)>;
  void set_per_node_env(PerNodeEnv f) { per_node_env_ = std::move(f); }
  // The test's own requests go over https:// with these (the nodes' flags,
  // per node, turn TLS on).
  void set_client_tls(TlsClientFiles f) { client_tls_ = std::move(f); }

  // Starts node 0 with --bootstrap and nodes 1..n-1 with --join, and waits
  // until all n are voters and ready.
  bool Start(int n);
  // Adds a node (new id, empty data dir) that joins through `via`.
  TestNode* AddNode(const std::string& id, int via, const std::vector<std::string>& flags = {});

  int size() const { return static_cast<int>(nodes_.size()); }
  TestNode& node(int i) { return *nodes_[i]; }
  const std::string& id(int i) const { return ids_[i]; }
  // Restarts node i on its data dir with its original flags (plus `extra`).
  bool Restart(int i, const std::vector<std::string>& extra = {});

  // The index of the node every live node names as leader (and which says
  // it leads), or -1 if they do not agree within `timeout`.
  int WaitLeader(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Live nodes whose status shows `voters` voters.
  bool WaitVoters(int voters, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // All live nodes at the same applied index with the same state hash.
  bool WaitConverged(std::chrono::milliseconds timeout = std::chrono::seconds(20),
                     std::string* detail = nullptr);

  // A request with the API key to node i, following 307 redirects.
  HttpResult Request(int i, const std::string& method, const std::string& target,
                     const std::string& body = "");
  // The parsed /api/v1/cluster/status of node i (empty object if down).
  rapidjson::Document Status(int i);
  std::map<std::string, std::string> Auth() const;

 private:
  std::vector<std::string> extra_;
  PerNodeFlags per_node_flags_;
  PerNodeEnv per_node_env_;
  std::optional<TlsClientFiles> client_tls_;
  std::vector<std::vector<std::string>> envs_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::vector<std::string> ids_;
  std::vector<std::vector<std::string>> flags_;
};

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_LIB_CLUSTER_H_
