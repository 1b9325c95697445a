// A small metrics registry with Prometheus text exposition (format 0.0.4):
// counters, gauges and histograms, each a family of series keyed by label
// values. Thread-safe; recording is lock-free after a series exists.
//
// Labels never carry tenant data (namespaces, keys, values): only routes,
// methods, status codes and the like.
#ifndef CONCORDANCE_UTIL_METRICS_H_
#define CONCORDANCE_UTIL_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace concordance::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound (+Inf last), sum and count.
  void Snapshot(std::vector<uint64_t>* cumulative, double* sum, uint64_t* count) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, 100 µs .. 10 s.
std::vector<double> LatencyBuckets();
// Finer buckets for the stages of one write, 10 µs .. 5 s (the write path's
// stages are tens to hundreds of microseconds each).
std::vector<double> StageBuckets();
// concordance_write_stage_seconds, recorded by the node driver (intake ..
// answer) and by the HTTP server (send, total).
inline constexpr char kWriteStageName[] = "concordance_write_stage_seconds";
inline constexpr char kWriteStageHelp[] =
    "Where a write's time goes on the leader, stage by stage: intake (handed to the "
    "driver -> proposed), append (proposed -> the leader's own append fsynced), "
    "replicate (proposed -> committed by a quorum), apply (committed -> applied), "
    "answer (the reply callback), send (HTTP: answered -> written to the socket), "
    "total (HTTP PUT/POST/DELETE: request read -> response written).";

class Registry {
 public:
  // Returns the series for `labels` in family `name`, creating both on first
  // use. The pointer stays valid for the registry's lifetime.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const Labels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help,
                  const Labels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds,
                          const Labels& labels = {});
  // A gauge computed when scraped.
  void AddCallbackGauge(const std::string& name, const std::string& help,
                        std::function<double()> fn);

  // The Prometheus text exposition of every series.
  std::string Render() const;

 private:
  struct Family {
    std::string type;  // counter | gauge | histogram
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // label text ->
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::function<double()> callback;
  };
  Family& GetFamily(const std::string& name, const std::string& type,
                    const std::string& help) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

// `{a="x",b="y"}` with values escaped, or "" for no labels.
std::string FormatLabels(const Labels& labels);

}  // namespace concordance::metrics

#endif  // CONCORDANCE_UTIL_METRICS_H_
