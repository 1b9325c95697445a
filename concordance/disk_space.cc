#include "concordance/disk_space.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "util/status_payloads.h"

namespace concordance {

DiskSpace::DiskSpace(std::string data_dir, uint64_t min_free_bytes,
                     metrics::Registry* metrics,
                     std::chrono::milliseconds refresh)
    : data_dir_(std::move(data_dir)),
      min_free_bytes_(min_free_bytes),
      refresh_(refresh) {
  free_gauge_ = metrics->GetGauge(
      "concordance_disk_free_bytes",
      "Bytes available on the data dir's filesystem (last reading).");
  refused_ = metrics->GetCounter(
      "concordance_writes_refused_disk_full_total",
      "Writes refused because the data dir's filesystem was nearly full.");
}

absl::Status DiskSpace::AdmitWrite() {
  if (min_free_bytes_ == 0) return absl::OkStatus();
  uint64_t free_bytes;
  {
    absl::MutexLock l(&mu_);
    auto now = std::chrono::steady_clock::now();
    if (now - checked_ >= refresh_) {
      checked_ = now;
      struct statvfs st;
      if (statvfs(data_dir_.c_str(), &st) == 0) {
        free_bytes_ = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
        free_gauge_->Set(static_cast<double>(free_bytes_));
      }
      bool now_short = free_bytes_ < min_free_bytes_;
      if (now_short && !short_) {
        LOG(WARNING) << "only " << free_bytes_ << " bytes free in " << data_dir_
                     << " (--min-free-disk-bytes=" << min_free_bytes_
                     << "): refusing writes until space is freed";
      } else if (!now_short && short_) {
        LOG(INFO) << free_bytes_ << " bytes free in " << data_dir_
                  << " again: accepting writes";
      }
      short_ = now_short;
    }
    if (!short_) return absl::OkStatus();
    free_bytes = free_bytes_;
  }
  refused_->Inc();
  absl::Status s = absl::ResourceExhaustedError(absl::StrCat(
      "disk almost full: ", free_bytes,
      " bytes free on the node's data dir, below ", "--min-free-disk-bytes=",
      min_free_bytes_, "; writes are refused until space is freed"));
  SetIntPayload(s, kDiskFullPayload, static_cast<int64_t>(free_bytes));
  return s;
}

void FatalStorageError(const std::string& what, const absl::Status& status) {
  LOG(ERROR) << what << ": " << status
             << "; stopping now — going on after a failed write or fsync could "
                "lose acknowledged data. "
                "The node recovers from its files when restarted (free disk "
                "space first if it is full).";
  google::FlushLogFiles(google::GLOG_INFO);
  fflush(stderr);
  _exit(kExitStorageFailure);
}

}  // namespace concordance
