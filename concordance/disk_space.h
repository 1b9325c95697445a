// DiskSpace: keeps a node from filling its disk. While the data dir's
// filesystem has less than `min_free_bytes` available, writes are refused
// with ResourceExhausted (kDiskFullPayload: the bytes free) — a clear,
// retryable error that touches nothing — and they are admitted again as
// soon as space is freed. The free space is read (statvfs) at most every
// `refresh` and logged when it crosses the limit either way.
//
// The guard is the first line; the second is fatal: a write to raft.db or
// state.db that fails anyway (the disk filled by something else, an I/O or
// fsync error) stops the node (FatalStorageError) rather than go on.
//
// Thread-safe.
#ifndef CONCORDANCE_CONCORDANCE_DISK_SPACE_H_
#define CONCORDANCE_CONCORDANCE_DISK_SPACE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "util/metrics.h"

namespace concordance {

class DiskSpace {
 public:
  DiskSpace(std::string data_dir, uint64_t min_free_bytes,
            metrics::Registry* metrics,
            std::chrono::milliseconds refresh = std::chrono::milliseconds(200));

  // OK while there is room (always, when min_free_bytes is 0).
  absl::Status AdmitWrite();

 private:
  const std::string data_dir_;
  const uint64_t min_free_bytes_;
  const std::chrono::milliseconds refresh_;
  metrics::Gauge* free_gauge_;
  metrics::Counter* refused_;
  absl::Mutex mu_;
  std::chrono::steady_clock::time_point checked_ ABSL_GUARDED_BY(mu_){};
  uint64_t free_bytes_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
  bool short_ ABSL_GUARDED_BY(mu_) = false;
};

// A write or fsync of a database failed where Raft cannot go on safely:
// logs why and exits at once (status 74, EX_IOERR) — never retried (after
// "fsyncgate", PostgreSQL and etcd also stop), never crashing with a core.
// The node recovers from its files when restarted.
[[noreturn]] void FatalStorageError(const std::string& what,
                                    const absl::Status& status);
inline constexpr int kExitStorageFailure = 74;

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_DISK_SPACE_H_
