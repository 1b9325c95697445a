#include "storage/memory_log_store.h"

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"

namespace concordance::storage {

uint64_t SnapshotChecksum(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | md[i];
  return h;
}

uint64_t MemoryLogStore::FirstIndexLocked() const { return offset_; }

uint64_t MemoryLogStore::LastIndexLocked() const {
  return offset_ + entries_.size() - 1;
}

uint64_t MemoryLogStore::FirstIndex() const {
  absl::MutexLock l(&mu_);
  return FirstIndexLocked();
}

uint64_t MemoryLogStore::LastIndex() const {
  absl::MutexLock l(&mu_);
  return LastIndexLocked();
}

absl::StatusOr<uint64_t> MemoryLogStore::Term(uint64_t index) const {
  absl::MutexLock l(&mu_);
  if (index == snapshot_.meta.index()) return snapshot_.meta.term();
  if (index < offset_ || index > LastIndexLocked()) {
    return absl::OutOfRangeError(absl::StrCat("no entry at index ", index));
  }
  return entries_[index - offset_].term();
}

absl::Status MemoryLogStore::Entries(uint64_t lo, uint64_t hi,
                                     uint64_t max_bytes,
                                     std::vector<raft::LogEntry>* out) const {
  absl::MutexLock l(&mu_);
  if (lo < offset_ || hi > LastIndexLocked() + 1 || lo > hi) {
    return absl::OutOfRangeError(
        absl::StrCat("entries [", lo, ",", hi, ") not in log [", offset_, ",",
                     LastIndexLocked(), "]"));
  }
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const raft::LogEntry& e = entries_[i - offset_];
    if (i > lo && bytes + e.data().size() > max_bytes) break;
    bytes += e.data().size();
    out->push_back(e);
  }
  return absl::OkStatus();
}

absl::StatusOr<raft::LogEntry> MemoryLogStore::LastConfigEntry(
    uint64_t max_index) const {
  absl::MutexLock l(&mu_);
  uint64_t last = std::min(max_index, LastIndexLocked());
  for (uint64_t i = last; i >= offset_ && i > 0; --i) {
    if (entries_[i - offset_].type() == raft::CONFIG) {
      return entries_[i - offset_];
    }
  }
  return absl::NotFoundError("no config entry in the log");
}

raft::HardState MemoryLogStore::hard_state() const {
  absl::MutexLock l(&mu_);
  return hard_state_;
}

raft::SnapshotMeta MemoryLogStore::snapshot_meta() const {
  absl::MutexLock l(&mu_);
  return snapshot_.meta;
}

absl::StatusOr<Snapshot> MemoryLogStore::LoadSnapshot() const {
  absl::MutexLock l(&mu_);
  if (snapshot_.meta.index() > 0 && !HasImage(snapshot_.meta)) {
    image_wanted_ = true;
    return absl::UnavailableError(absl::StrCat(
        "the log is compacted at ", snapshot_.meta.index(),
        " without a snapshot image; one is requested"));
  }
  Snapshot s = snapshot_;
  if (s.data == nullptr) s.data = std::make_shared<const std::string>();
  return s;
}

raft::ConfState MemoryLogStore::conf_state() const {
  absl::MutexLock l(&mu_);
  return conf_state_;
}

absl::Status MemoryLogStore::Save(const raft::HardState* hard_state,
                                  absl::Span<const raft::LogEntry> entries,
                                  const raft::ConfState* conf_state) {
  absl::MutexLock l(&mu_);
  if (!entries.empty()) {
    uint64_t first = entries.front().index();
    if (first < FirstIndexLocked() || first > LastIndexLocked() + 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("append at ", first, " leaves a gap or rewrites the "
                       "snapshot; log is [", FirstIndexLocked(), ",",
                       LastIndexLocked(), "]"));
    }
    for (size_t i = 1; i < entries.size(); ++i) {
      if (entries[i].index() != first + i) {
        return absl::InvalidArgumentError("entries are not contiguous");
      }
    }
    entries_.resize(first - offset_);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
  if (hard_state != nullptr) hard_state_ = *hard_state;
  if (conf_state != nullptr) conf_state_ = *conf_state;
  return absl::OkStatus();
}

void MemoryLogStore::CompactLocked(uint64_t index) {
  while (offset_ <= index && !entries_.empty()) {
    entries_.pop_front();
    ++offset_;
  }
  if (offset_ <= index) offset_ = index + 1;
}

absl::Status MemoryLogStore::SaveSnapshot(const Snapshot& snapshot) {
  {
    absl::MutexLock l(&mu_);
    uint64_t index = snapshot.meta.index();
    if (index < snapshot_.meta.index() || index > LastIndexLocked()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snapshot at ", index, " outside log [", snapshot_.meta.index(), ",",
          LastIndexLocked(), "]"));
    }
  }
  if (absl::Status s = WriteSnapshotImage(snapshot); !s.ok()) return s;
  return CommitSnapshot(snapshot.meta);
}

absl::Status MemoryLogStore::WriteSnapshotImage(const Snapshot& snapshot) const {
  if (snapshot.data == nullptr || snapshot.data->size() != snapshot.meta.size()) {
    return absl::InvalidArgumentError("snapshot data does not match its size");
  }
  absl::MutexLock l(&mu_);
  images_[{snapshot.meta.index(), snapshot.meta.term()}] = snapshot.data;
  return absl::OkStatus();
}

absl::Status MemoryLogStore::CommitSnapshot(const raft::SnapshotMeta& meta) {
  absl::MutexLock l(&mu_);
  uint64_t index = meta.index();
  auto key = std::make_pair(meta.index(), meta.term());
  // As RaftLog: an image at the current compaction point still gets
  // recorded; anything older is a no-op.
  bool adds_image = index == snapshot_.meta.index() && HasImage(meta) &&
                    !HasImage(snapshot_.meta);
  if (index <= snapshot_.meta.index() && !adds_image) {
    images_.erase(key);
    return absl::OkStatus();
  }
  if (index > LastIndexLocked()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot at ", index, " beyond the log's last index ", LastIndexLocked()));
  }
  std::shared_ptr<const std::string> data;
  if (HasImage(meta)) {
    auto it = images_.find(key);
    if (it == images_.end()) {
      return absl::FailedPreconditionError("snapshot image not written before its commit");
    }
    data = it->second;
    image_wanted_ = false;
  }
  images_.clear();  // older images are of no use once the log is past them
  snapshot_.meta = meta;
  snapshot_.data = std::move(data);
  CompactLocked(index);
  return absl::OkStatus();
}

bool MemoryLogStore::ImageWanted() const {
  absl::MutexLock l(&mu_);
  return image_wanted_;
}

absl::Status MemoryLogStore::InstallSnapshot(const Snapshot& snapshot) {
  absl::MutexLock l(&mu_);
  entries_.clear();
  offset_ = snapshot.meta.index() + 1;
  snapshot_ = snapshot;
  images_.clear();
  image_wanted_ = false;
  conf_state_ = snapshot.meta.conf_state();
  return absl::OkStatus();
}

}  // namespace concordance::storage
