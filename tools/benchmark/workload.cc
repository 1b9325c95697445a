#include "tools/benchmark/workload.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace concordance::benchmark {

absl::Status ValidateWorkload(const WorkloadOptions& o) {
  if (o.name != "put" && o.name != "get" && o.name != "mixed" && o.name != "cas-contention") {
    return absl::InvalidArgumentError(
        "--workload must be put, get, mixed, cas-contention or watch-latency");
  }
  if (o.key_space < 1) return absl::InvalidArgumentError("--key-space must be at least 1");
  if (o.value_size < 2) return absl::InvalidArgumentError("--value-size must be at least 2");
  if (o.read_ratio < 0 || o.read_ratio > 1) {
    return absl::InvalidArgumentError("--read-ratio must be within 0..1");
  }
  return absl::OkStatus();
}

// The value: a JSON string of exactly `size` bytes (quotes included).
Workload::Workload(WorkloadOptions options)
    : options_(std::move(options)),
      value_("\"" + std::string(std::max(options_.value_size - 2, 0), 'v') + "\"") {}

Outcome Workload::RunOne(Target* target, std::minstd_rand* rng, std::string* error) const {
  std::string key = absl::StrCat("k", (*rng)() % static_cast<uint32_t>(options_.key_space));
  if (options_.name == "put") return Write(target, key, error);
  if (options_.name == "get") return Read(target, key, error);
  if (options_.name == "cas-contention") return CompareAndSwap(target, key, error);
  std::uniform_real_distribution<double> coin(0, 1);
  return coin(*rng) < options_.read_ratio ? Read(target, key, error) : Write(target, key, error);
}

Outcome Workload::Write(Target* target, const std::string& key, std::string* error) const {
  absl::StatusOr<Written> w = target->Put("", key, value_, std::nullopt);
  if (w.ok()) return Outcome::kOk;
  *error = w.status().ToString();
  return Outcome::kError;
}

Outcome Workload::Read(Target* target, const std::string& key, std::string* error) const {
  absl::StatusOr<int64_t> v = target->Get(key);
  if (v.ok() || absl::IsNotFound(v.status())) return Outcome::kOk;
  *error = v.status().ToString();
  return Outcome::kError;
}

Outcome Workload::CompareAndSwap(Target* target, const std::string& key, std::string* error) const {
  absl::StatusOr<int64_t> v = target->Get(key);
  if (!v.ok() && !absl::IsNotFound(v.status())) {
    *error = v.status().ToString();
    return Outcome::kError;
  }
  int64_t version = v.ok() ? *v : 0;
  absl::StatusOr<Written> w = target->Put("", key, value_, version);
  if (w.ok()) return Outcome::kOk;
  if (absl::IsAborted(w.status()) || absl::IsAlreadyExists(w.status())) return Outcome::kConflict;
  *error = w.status().ToString();
  return Outcome::kError;
}

}  // namespace concordance::benchmark
