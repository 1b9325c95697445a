// A client of a real cluster that records what it did as a history for the
// linearizability checker: every request's call and return times and what
// it answered. What it speaks is a Transport: REST (writes sent to a
// follower follow its 307 to the leader: a redirect means nothing was
// applied) or gRPC through //tools/client (which follows the leader and
// retries only what provably did not apply). A write without an answer, or
// with one marked indeterminate, is recorded as indeterminate; one the
// server says was not applied, or never sent, is left out.
#ifndef CONCORDANCE_TESTS_JEPSEN_HISTORY_CLIENT_H_
#define CONCORDANCE_TESTS_JEPSEN_HISTORY_CLIENT_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/jepsen/linearizability.h"

namespace concordance::jepsen {

// One client's way to the cluster. Values are plain strings (written as
// JSON strings); keys are keys of the transport's namespace.
class Transport {
 public:
  struct Answer {
    Outcome outcome = Outcome::kIndeterminate;
    std::string value;   // get, kOk
    int64_t version = 0; // get and put, kOk
    bool keep = true;    // false: the server said it was not applied (leave it out)
  };
  virtual ~Transport() = default;
  virtual Answer Get(const std::string& key) = 0;  // linearizable
  virtual Answer Put(const std::string& key, const std::string& value, std::optional<int64_t> expected) = 0;
  virtual Answer Delete(const std::string& key) = 0;
};

// REST over kept-alive connections, round-robin over `ports`; never sends
// a request twice.
std::unique_ptr<Transport> RestTransport(std::vector<int> ports, std::string ns,
                                         std::map<std::string, std::string> auth);
// gRPC (concordance.v1) through //tools/client over `endpoints`.
std::unique_ptr<Transport> GrpcTransport(std::vector<std::string> endpoints, std::string ns, std::string key);

class HistoryClient {
 public:
  HistoryClient(int id, std::unique_ptr<Transport> transport) : id_(id), transport_(std::move(transport)) {}

  // One linearizable get, put (plain or CAS at the last version this client
  // saw) or delete of one of `keys` keys, chosen at random.
  void RandomOperation(std::minstd_rand* rng, int keys);
  // A linearizable get of `key`.
  Operation Get(const std::string& key);

  const std::vector<Operation>& history() const { return history_; }

 private:
  // Runs `call` as operation `op` and records it (unless left out).
  Operation Record(Operation op, const std::function<Transport::Answer()>& call);

  const int id_;
  std::unique_ptr<Transport> transport_;
  std::map<std::string, int64_t> seen_version_;
  std::vector<Operation> history_;
  int next_value_ = 0;
};

}  // namespace concordance::jepsen

#endif  // CONCORDANCE_TESTS_JEPSEN_HISTORY_CLIENT_H_
