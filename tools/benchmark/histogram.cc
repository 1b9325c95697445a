#include "tools/benchmark/histogram.h"

#include <algorithm>
#include <cmath>

namespace concordance::benchmark {

Histogram::Histogram() : counts_((64 - kSubBits + 1) * kSub, 0) {}

size_t Histogram::Index(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - kSubBits;  // >= 0
  uint64_t sub = v >> shift;   // in [kSub, 2 * kSub)
  return static_cast<size_t>((shift + 1) * kSub + (sub - kSub));
}

uint64_t Histogram::UpperBound(size_t index) {
  if (index < kSub) return index;
  uint64_t shift = index / kSub - 1;
  uint64_t sub = index % kSub + kSub;
  return ((sub + 1) << shift) - 1;
}

void Histogram::Record(uint64_t value) {
  ++counts_[Index(value)];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::Quantile(double fraction) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(UpperBound(i), max_);
  }
  return max_;
}

}  // namespace concordance::benchmark
