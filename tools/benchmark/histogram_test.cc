#include "tools/benchmark/histogram.h"

#include <cmath>

#include "gtest/gtest.h"

namespace concordance::benchmark {
namespace {

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.Quantile(0.5), 50u);
  EXPECT_EQ(h.Quantile(0.99), 99u);
  EXPECT_EQ(h.Quantile(1.0), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(HistogramTest, LargeValuesStayWithinOnePercent) {
  Histogram h;
  for (uint64_t v = 1000; v <= 1000000; v += 1000) h.Record(v);  // 1,000 values
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double want = 1000.0 * std::ceil(q * 1000);
    double got = static_cast<double>(h.Quantile(q));
    EXPECT_GE(got, want) << q;
    EXPECT_LE(got, want * 1.01) << q;
  }
  EXPECT_EQ(h.Quantile(1.0), 1000000u);
  EXPECT_EQ(h.max(), 1000000u);
}

TEST(HistogramTest, MergeAddsCountsAndKeepsTheMax) {
  Histogram a, b;
  for (int i = 0; i < 90; ++i) a.Record(10);
  for (int i = 0; i < 10; ++i) b.Record(5000000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.Quantile(0.9), 10u);
  EXPECT_GE(a.Quantile(0.91), 5000000u * 99 / 100);
  EXPECT_EQ(a.max(), 5000000u);
  Histogram empty;
  EXPECT_EQ(empty.Quantile(0.5), 0u);
}

}  // namespace
}  // namespace concordance::benchmark
