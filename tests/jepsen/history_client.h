// A client of a real cluster that records what it did as a history for the
// linearizability checker: every request's call and return times and what
// it answered over REST. Writes sent to a follower follow its 307 to the
// leader (a redirect means nothing was applied). A write without an answer
// (a timeout, a reset) or with one marked "indeterminate" is indeterminate;
// one the server says was not applied is left out.
#ifndef CONCORDANCE_TESTS_JEPSEN_HISTORY_CLIENT_H_
#define CONCORDANCE_TESTS_JEPSEN_HISTORY_CLIENT_H_

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/jepsen/linearizability.h"
#include "tests/lib/cluster.h"

namespace concordance::jepsen {

class HistoryClient {
 public:
  HistoryClient(int id, std::vector<int> ports, std::string ns, std::map<std::string, std::string> auth);

  // One linearizable get, put (plain or CAS at the last version this client
  // saw) or delete of one of `keys` keys, chosen at random; appended to
  // history().
  void RandomOperation(std::minstd_rand* rng, int keys);
  // A linearizable get of key `k`.
  Operation Get(const std::string& key);

  const std::vector<Operation>& history() const { return history_; }

 private:
  testing::HttpResult Send(int port, const std::string& method, const std::string& target,
                           const std::string& body);
  Operation Put(const std::string& key, const std::string& value, std::optional<int64_t> expected);
  Operation Delete(const std::string& key);

  const int id_;
  const std::vector<int> ports_;
  const std::string ns_;
  const std::map<std::string, std::string> auth_;
  std::map<int, std::unique_ptr<testing::HttpClient>> connections_;
  std::map<std::string, int64_t> seen_version_;
  std::vector<Operation> history_;
  int next_value_ = 0;
  size_t next_port_ = 0;
};

}  // namespace concordance::jepsen

#endif  // CONCORDANCE_TESTS_JEPSEN_HISTORY_CLIENT_H_
