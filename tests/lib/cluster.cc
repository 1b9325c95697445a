#include "tests/lib/cluster.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include "gtest/gtest.h"
#include "tests/lib/fault_tally.h"

namespace concordance::testing {

TestCluster::TestCluster(std::vector<std::string> extra) : extra_(std::move(extra)) {}

TestCluster::~TestCluster() {
  for (auto& n : nodes_) {
    if (n->running()) n->Stop(std::chrono::seconds(10));
  }
  // A failed test keeps every node's log (bazel-testlogs/.../test.outputs).
  const char* out = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (out == nullptr || !::testing::Test::HasFailure()) return;
  const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string prefix = std::string(out) + "/" + (t ? std::string(t->name()) + "." : "");
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::ofstream f(prefix + ids_[i] + ".log");
    f << nodes_[i]->log();
  }
}

std::map<std::string, std::string> TestCluster::Auth() const {
  return {{"Authorization", std::string("Bearer ") + kApiKey}};
}

bool TestCluster::Start(int n) {
  for (int i = 0; i < n; ++i) {
    std::string id = "node" + std::to_string(i + 1);
    auto node = std::make_unique<TestNode>(id);
    if (client_tls_) node->UseTls(*client_tls_);
    std::vector<std::string> flags = {"--node-id=" + id, std::string("--api-key=") + kApiKey};
    if (i == 0) {
      flags.push_back("--bootstrap");
    } else {
      flags.push_back("--join=" + nodes_[0]->address());
    }
    flags.insert(flags.end(), extra_.begin(), extra_.end());
    if (per_node_flags_) {
      std::vector<std::string> own = per_node_flags_(id, node->port());
      flags.insert(flags.end(), own.begin(), own.end());
    }
    std::vector<std::string> env = per_node_env_ ? per_node_env_(id) : std::vector<std::string>{};
    if (!node->Start(flags, env)) return false;
    if (i == 0 && !node->WaitReady()) return false;
    nodes_.push_back(std::move(node));
    ids_.push_back(id);
    flags_.push_back(flags);
    envs_.push_back(env);
  }
  return WaitVoters(n) && WaitLeader() >= 0;
}

TestNode* TestCluster::AddNode(const std::string& id, int via, const std::vector<std::string>& flags) {
  auto node = std::make_unique<TestNode>(id);
  if (client_tls_) node->UseTls(*client_tls_);
  std::vector<std::string> f = {"--node-id=" + id, std::string("--api-key=") + kApiKey,
                                "--join=" + nodes_[via]->address()};
  f.insert(f.end(), extra_.begin(), extra_.end());
  if (per_node_flags_) {
    std::vector<std::string> own = per_node_flags_(id, node->port());
    f.insert(f.end(), own.begin(), own.end());
  }
  f.insert(f.end(), flags.begin(), flags.end());
  std::vector<std::string> env = per_node_env_ ? per_node_env_(id) : std::vector<std::string>{};
  if (!node->Start(f, env)) return nullptr;
  nodes_.push_back(std::move(node));
  ids_.push_back(id);
  flags_.push_back(f);
  envs_.push_back(env);
  return nodes_.back().get();
}

bool TestCluster::Restart(int i, const std::vector<std::string>& extra) {
  fault_tally::Note("restart");
  std::vector<std::string> f = flags_[i];
  // A restart never bootstraps again by accident, and rejoins on its own.
  f.erase(std::remove(f.begin(), f.end(), "--bootstrap"), f.end());
  f.insert(f.end(), extra.begin(), extra.end());
  return nodes_[i]->Start(f, envs_[i]);
}

rapidjson::Document TestCluster::Status(int i) {
  if (!nodes_[i]->running()) return ParseJson("{}");
  HttpResult r = nodes_[i]->http().Request("GET", "/api/v1/cluster/status", "", Auth(),
                                           std::chrono::seconds(2));
  return ParseJson(r.status == 200 ? r.body : "{}");
}

int TestCluster::WaitLeader(std::chrono::milliseconds timeout) {
  int leader = -1;
  WaitFor(
      [&] {
        std::set<std::string> named;
        int self_leader = -1;
        for (int i = 0; i < size(); ++i) {
          if (!nodes_[i]->running()) continue;
          auto s = Status(i);
          if (!s.IsObject() || !s.HasMember("leader") || !s["leader"].IsObject()) return false;
          named.insert(JsonString(s["leader"], "nodeId"));
          if (JsonString(s, "role") == "leader") self_leader = i;
        }
        if (named.size() != 1 || self_leader < 0 || *named.begin() != ids_[self_leader]) {
          return false;
        }
        leader = self_leader;
        return true;
      },
      timeout);
  return leader;
}

bool TestCluster::WaitVoters(int voters, std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        for (int i = 0; i < size(); ++i) {
          if (!nodes_[i]->running()) continue;
          auto s = Status(i);
          if (!s.HasMember("peers") || !s["peers"].IsArray()) return false;
          int v = 0;
          for (auto& p : s["peers"].GetArray()) v += p["voter"].GetBool() ? 1 : 0;
          if (v != voters) return false;
        }
        return true;
      },
      timeout);
}

bool TestCluster::WaitConverged(std::chrono::milliseconds timeout, std::string* detail) {
  std::string last;
  bool ok = WaitFor(
      [&] {
        std::set<std::pair<int64_t, std::string>> seen;
        last.clear();
        for (int i = 0; i < size(); ++i) {
          if (!nodes_[i]->running()) continue;
          auto s = Status(i);
          int64_t applied = JsonInt(s, "appliedIndex");
          std::string hash = JsonString(s, "stateHash");
          last += ids_[i] + "@" + std::to_string(applied) + ":" + hash.substr(0, 12) + " ";
          if (applied < 0) return false;
          seen.insert({applied, hash});
        }
        return seen.size() == 1;
      },
      timeout);
  if (detail) *detail = last;
  return ok;
}

HttpResult TestCluster::Request(int i, const std::string& method, const std::string& target,
                                const std::string& body) {
  HttpResult r = nodes_[i]->http().Request(method, target, body, Auth());
  for (int hop = 0; hop < 3 && r.status == 307; ++hop) {
    std::string loc = r.headers["location"];
    size_t start = loc.find("//");
    start = start == std::string::npos ? 0 : start + 2;
    std::string hostport = loc.substr(start, loc.find('/', start) - start);
    int port = std::stoi(hostport.substr(hostport.rfind(':') + 1));
    HttpClient c("127.0.0.1", port);
    r = c.Request(method, loc.substr(loc.find('/', start)), body, Auth());
  }
  return r;
}

}  // namespace concordance::testing
