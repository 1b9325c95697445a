// The request mixes concordance-bench runs against a Target:
//   put             writes of --value-size bytes at random keys of --key-space
//   get             reads of random keys (absent keys count as answered)
//   mixed           reads with probability --read-ratio, else writes
//   cas-contention  read a key's version, then write it only at that
//                   version; many clients on few keys, so most lose
//                   (counted as conflicts, not errors)
#ifndef CONCORDANCE_TOOLS_BENCHMARK_WORKLOAD_H_
#define CONCORDANCE_TOOLS_BENCHMARK_WORKLOAD_H_

#include <random>
#include <string>

#include "absl/status/status.h"
#include "tools/benchmark/target.h"

namespace concordance::benchmark {

enum class Outcome { kOk, kConflict, kError };

struct WorkloadOptions {
  std::string name = "put";
  double read_ratio = 0.9;  // mixed
  int key_space = 10000;
  int value_size = 256;
};

// Checks the options; the error names what is wrong.
absl::Status ValidateWorkload(const WorkloadOptions& options);

class Workload {
 public:
  explicit Workload(WorkloadOptions options);
  // Issues one operation; on kError, `*error` says what failed.
  Outcome RunOne(Target* target, std::minstd_rand* rng, std::string* error) const;

 private:
  Outcome Write(Target* target, const std::string& key, std::string* error) const;
  Outcome Read(Target* target, const std::string& key, std::string* error) const;
  Outcome CompareAndSwap(Target* target, const std::string& key, std::string* error) const;

  const WorkloadOptions options_;
  const std::string value_;
};

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_WORKLOAD_H_
