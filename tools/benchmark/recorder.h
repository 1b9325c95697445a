// Recorder: what one client thread counted — a latency histogram (ns) and
// its ok / conflict / error counts — readable by a progress thread while
// the client runs (one uncontended lock per record).
#ifndef CONCORDANCE_TOOLS_BENCHMARK_RECORDER_H_
#define CONCORDANCE_TOOLS_BENCHMARK_RECORDER_H_

#include <cstdint>
#include <string>

#include "absl/synchronization/mutex.h"
#include "tools/benchmark/histogram.h"

namespace concordance::benchmark {

struct Counts {
  Histogram latency_ns;  // of the operations that answered (ok and conflicts)
  uint64_t ok = 0;
  uint64_t conflicts = 0;
  uint64_t errors = 0;
  std::string first_error;

  void Merge(const Counts& other) {
    latency_ns.Merge(other.latency_ns);
    ok += other.ok;
    conflicts += other.conflicts;
    errors += other.errors;
    if (first_error.empty()) first_error = other.first_error;
  }
};

class Recorder {
 public:
  void Ok(uint64_t ns) { Answered(ns, &Counts::ok); }
  void Conflict(uint64_t ns) { Answered(ns, &Counts::conflicts); }
  void Error(const std::string& what) {
    absl::MutexLock l(&mu_);
    if (counts_.errors++ == 0) counts_.first_error = what;
  }
  Counts Snapshot() const {
    absl::MutexLock l(&mu_);
    return counts_;
  }

 private:
  void Answered(uint64_t ns, uint64_t Counts::*field) {
    absl::MutexLock l(&mu_);
    counts_.latency_ns.Record(ns);
    ++(counts_.*field);
  }

  mutable absl::Mutex mu_;
  Counts counts_;
};

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_RECORDER_H_
