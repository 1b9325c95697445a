#include "util/metrics.h"

#include "gtest/gtest.h"

namespace concordance::metrics {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistograms) {
  Registry r;
  r.GetCounter("requests_total", "Requests.", {{"route", "/kv"}, {"code", "200"}})->Inc(3);
  r.GetGauge("raft_term", "Term.")->Set(7);
  Histogram* h = r.GetHistogram("latency_seconds", "Latency.", {0.1, 1}, {{"route", "/kv"}});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  r.AddCallbackGauge("answer", "The answer.", [] { return 42.0; });
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE requests_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("requests_total{route=\"/kv\",code=\"200\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("raft_term 7"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{route=\"/kv\",le=\"0.1\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{route=\"/kv\",le=\"1\"} 2"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{route=\"/kv\",le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count{route=\"/kv\"} 3"), std::string::npos);
  EXPECT_NE(text.find("answer 42"), std::string::npos);
}

TEST(MetricsTest, SameLabelsSameSeries) {
  Registry r;
  Counter* a = r.GetCounter("c", "h", {{"x", "1"}});
  Counter* b = r.GetCounter("c", "h", {{"x", "1"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, r.GetCounter("c", "h", {{"x", "2"}}));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(FormatLabels({{"a", "q\"b\\"}}), "{a=\"q\\\"b\\\\\"}");
}

}  // namespace
}  // namespace concordance::metrics
