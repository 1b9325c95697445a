#include "raft/log.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace concordance::raft {

Log::Log(const storage::LogStore* store)
    : store_(store), unstable_offset_(store->LastIndex() + 1) {
  in_progress_ = unstable_offset_ - 1;
}

uint64_t Log::FirstIndex() const {
  if (pending_snapshot_) return pending_snapshot_->index() + 1;
  return store_->FirstIndex();
}

uint64_t Log::LastIndex() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (pending_snapshot_) return pending_snapshot_->index();
  return store_->LastIndex();
}

uint64_t Log::LastTerm() const { return TermOrZero(LastIndex()); }

absl::StatusOr<uint64_t> Log::Term(uint64_t index) const {
  if (index >= unstable_offset_) {
    uint64_t off = index - unstable_offset_;
    if (off < unstable_.size()) return unstable_[off].term();
    return absl::OutOfRangeError(absl::StrCat("index ", index, " beyond the log"));
  }
  if (pending_snapshot_) {
    if (index == pending_snapshot_->index()) return pending_snapshot_->term();
    return absl::OutOfRangeError(absl::StrCat("index ", index, " compacted"));
  }
  return store_->Term(index);
}

uint64_t Log::TermOrZero(uint64_t index) const {
  absl::StatusOr<uint64_t> t = Term(index);
  return t.ok() ? *t : 0;
}

bool Log::MatchTerm(uint64_t index, uint64_t term) const {
  absl::StatusOr<uint64_t> t = Term(index);
  return t.ok() && *t == term;
}

bool Log::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  uint64_t my_term = LastTerm();
  return last_term > my_term || (last_term == my_term && last_index >= LastIndex());
}

absl::StatusOr<std::vector<LogEntry>> Log::Entries(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const {
  std::vector<LogEntry> out;
  if (lo >= hi) return out;
  if (lo < FirstIndex()) {
    return absl::OutOfRangeError(absl::StrCat("index ", lo, " compacted"));
  }
  hi = std::min(hi, LastIndex() + 1);
  uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    uint64_t stored_hi = std::min(hi, unstable_offset_);
    absl::Status s = store_->Entries(lo, stored_hi, max_bytes, &out);
    if (!s.ok()) return s;
    for (const LogEntry& e : out) bytes += e.data().size();
    if (out.size() < stored_hi - lo) return out;  // byte budget reached
  }
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const LogEntry& e = unstable_[i - unstable_offset_];
    if (!out.empty() && bytes + e.data().size() > max_bytes) break;
    bytes += e.data().size();
    out.push_back(e);
  }
  return out;
}

void Log::Append(LogEntry entry) {
  std::vector<LogEntry> v;
  v.push_back(std::move(entry));
  Append(v);
}

void Log::Append(const std::vector<LogEntry>& entries) {
  if (entries.empty()) return;
  uint64_t first = entries.front().index();
  CHECK_GT(first, committed_) << "append would overwrite committed entries";
  CHECK_LE(first, LastIndex() + 1) << "append leaves a gap";
  if (first == unstable_offset_ + unstable_.size()) {
    // Plain extension.
  } else if (first <= unstable_offset_) {
    // Replaces everything unstable and a suffix of storage; the driver's
    // Save() deletes the stored suffix from `first` when it persists these.
    unstable_.clear();
    unstable_offset_ = first;
  } else {
    unstable_.resize(first - unstable_offset_);
  }
  in_progress_ = std::min(in_progress_, first - 1);
  unstable_.insert(unstable_.end(), entries.begin(), entries.end());
}

std::optional<uint64_t> Log::MaybeAppend(uint64_t prev_index, uint64_t prev_term,
                                         const std::vector<LogEntry>& entries) {
  if (!MatchTerm(prev_index, prev_term)) return std::nullopt;
  uint64_t last_new = prev_index + entries.size();
  // First entry whose term differs from ours (or that we lack).
  size_t conflict = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!MatchTerm(entries[i].index(), entries[i].term())) {
      conflict = i;
      break;
    }
  }
  if (conflict < entries.size()) {
    CHECK_GT(entries[conflict].index(), committed_)
        << "entry " << entries[conflict].index()
        << " conflicts with a committed entry";
    Append(std::vector<LogEntry>(entries.begin() + conflict, entries.end()));
  }
  return last_new;
}

void Log::CommitTo(uint64_t index) {
  if (index > committed_) {
    CHECK_LE(index, LastIndex()) << "commit beyond the log";
    committed_ = index;
  }
}

std::vector<LogEntry> Log::TakeUnstableForPersist() {
  std::vector<LogEntry> out;
  uint64_t from = std::max(in_progress_ + 1, unstable_offset_);
  for (uint64_t i = from; i < unstable_offset_ + unstable_.size(); ++i) {
    out.push_back(unstable_[i - unstable_offset_]);
  }
  if (!out.empty()) in_progress_ = out.back().index();
  return out;
}

void Log::StableTo(uint64_t index, uint64_t term) {
  if (index < unstable_offset_ || index >= unstable_offset_ + unstable_.size()) {
    return;
  }
  if (unstable_[index - unstable_offset_].term() != term) return;  // replaced
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index - unstable_offset_ + 1));
  unstable_offset_ = index + 1;
}

uint64_t Log::StableIndex() const {
  if (pending_snapshot_) return 0;
  return unstable_offset_ - 1;
}

bool Log::HasUnpersisted() const {
  uint64_t last_unstable = unstable_offset_ + unstable_.size() - 1;
  return !unstable_.empty() && last_unstable > std::max(in_progress_, unstable_offset_ - 1);
}

std::vector<LogEntry> Log::CommittedEntriesAfter(uint64_t after,
                                                 uint64_t max_bytes) const {
  std::vector<LogEntry> out;
  uint64_t hi = std::min(committed_, StableIndex());
  if (after >= hi) return out;
  absl::StatusOr<std::vector<LogEntry>> e = Entries(after + 1, hi + 1, max_bytes);
  // Committed, durable entries past the applied index are never compacted;
  // failing to read them is a storage fault, and carrying on would stall the
  // state machine (or loop asking for the same entries) without a word.
  CHECK(e.ok()) << "cannot read committed entries (" << after + 1 << ", " << hi
                << "] from the log store: " << e.status();
  return std::move(*e);
}

bool Log::HasCommittedAfter(uint64_t after) const {
  return after < std::min(committed_, StableIndex());
}

void Log::RestoreSnapshot(const SnapshotMeta& meta) {
  pending_snapshot_ = meta;
  unstable_.clear();
  unstable_offset_ = meta.index() + 1;
  in_progress_ = meta.index();
  committed_ = meta.index();
}

void Log::SnapshotPersisted(uint64_t index) {
  if (pending_snapshot_ && pending_snapshot_->index() == index) {
    pending_snapshot_.reset();
    applied_ = std::max(applied_, index);
  }
}

}  // namespace concordance::raft
