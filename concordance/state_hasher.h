// StateHasher: the state hash of /cluster/status (a SHA-256 over every row
// of state.db, storage/kv_store.h ContentHash), computed on a worker thread
// instead of the thread serving the request, once per applied index: every
// caller that asks while the state is unchanged gets the cached hash, and
// callers that ask while a hash is being computed share it.
//
// Thread-safe.
#ifndef CONCORDANCE_CONCORDANCE_STATE_HASHER_H_
#define CONCORDANCE_CONCORDANCE_STATE_HASHER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "concordance/worker.h"
#include "storage/kv_store.h"
#include "util/metrics.h"

namespace concordance {

struct StateHash {
  std::string hash;
  uint64_t applied_index = 0;  // the state the hash is of
};

class StateHasher {
 public:
  // Not owned; `worker` runs the hashing.
  StateHasher(const storage::KvStore* store, Worker* worker, metrics::Registry* metrics);

  // Calls `done` with the hash of the state at an applied index at least as
  // new as the one when Get was called (at once when that is cached), on
  // the calling or the worker thread.
  void Get(std::function<void(absl::StatusOr<StateHash>)> done);

 private:
  void Compute();

  const storage::KvStore* store_;
  Worker* worker_;
  metrics::Counter* computed_;
  absl::Mutex mu_;
  std::optional<StateHash> cached_ ABSL_GUARDED_BY(mu_);
  bool computing_ ABSL_GUARDED_BY(mu_) = false;
  // Callers waiting for a hash of at least this applied index.
  std::vector<std::pair<uint64_t, std::function<void(absl::StatusOr<StateHash>)>>> waiting_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_STATE_HASHER_H_
