// A latency histogram with bounded relative error (HdrHistogram's layout):
// values below 128 are exact; above, each power of two has 128 buckets, so
// a recorded value is known to within 1/128 (< 0.8%). Fixed memory; not
// thread-safe (one per thread, merged at the end).
#ifndef CONCORDANCE_TOOLS_BENCHMARK_HISTOGRAM_H_
#define CONCORDANCE_TOOLS_BENCHMARK_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace concordance::benchmark {

class Histogram {
 public:
  Histogram();
  void Record(uint64_t value);
  void Merge(const Histogram& other);
  // The smallest recorded bucket's upper bound that at least `fraction`
  // (0..1] of the values do not exceed; 0 when empty.
  uint64_t Quantile(double fraction) const;
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

 private:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static size_t Index(uint64_t v);
  static uint64_t UpperBound(size_t index);

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_HISTOGRAM_H_
