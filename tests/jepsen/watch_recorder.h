// Watchers for the fault suite: each records the seq of every change its
// subscription delivers, resuming from the last one on another node when
// its node fails, so a check can hold them against the final changelog
// (in order, none missing, none twice). Two kinds, one per wire: gRPC
// (//tools/client's Watcher) and JSON-RPC over /stream (a WebSocket that
// re-subscribes with fromSeq).
#ifndef CONCORDANCE_TESTS_JEPSEN_WATCH_RECORDER_H_
#define CONCORDANCE_TESTS_JEPSEN_WATCH_RECORDER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "tests/lib/cluster.h"

namespace concordance::jepsen {

class WatchRecorder {
 public:
  virtual ~WatchRecorder() = default;
  // "grpc@node2", "stream@node1": for messages.
  const std::string& name() const { return name_; }
  int64_t last();
  std::vector<int64_t> seqs();
  absl::Status error();
  int resumes();
  // Ends the subscription; no seq is recorded after it returns.
  virtual void Stop() = 0;

 protected:
  explicit WatchRecorder(std::string name) : name_(std::move(name)) {}
  void Record(int64_t seq);
  void Fail(absl::Status s);
  void Resumed();

 private:
  const std::string name_;
  absl::Mutex mu_;
  std::vector<int64_t> seqs_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  int resumes_ ABSL_GUARDED_BY(mu_) = 0;
};

// A watch of `tenant` from seq 0, starting on node `start` of `c`.
std::unique_ptr<WatchRecorder> GrpcWatch(testing::TestCluster& c, int start,
                                         const std::string& tenant);
std::unique_ptr<WatchRecorder> StreamWatch(testing::TestCluster& c, int start,
                                           const std::string& tenant);

// Every watcher delivered exactly the tenant's changelog: each seq once, in
// order, none missing (across the resumes its node's faults forced).
void ExpectEveryWatcherSawTheChangelog(
    testing::TestCluster& c, const std::string& tenant,
    std::vector<std::unique_ptr<WatchRecorder>>& watchers);

}  // namespace concordance::jepsen

#endif  // CONCORDANCE_TESTS_JEPSEN_WATCH_RECORDER_H_
