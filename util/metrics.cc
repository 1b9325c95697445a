#include "util/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace concordance::metrics {
namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatNumber(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrCat(v);
}

void AtomicAdd(std::atomic<double>* a, double d) {
  double cur = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

// Inserts extra labels (e.g. le="0.1") into a formatted label set.
std::string WithLabel(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return absl::StrCat("{", extra, "}");
  return absl::StrCat(labels.substr(0, labels.size() - 1), ",", extra, "}");
}

}  // namespace

void Gauge::Add(double d) { AtomicAdd(&v_, d); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::Snapshot(std::vector<uint64_t>* cumulative, double* sum,
                         uint64_t* count) const {
  cumulative->clear();
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    cumulative->push_back(acc);
  }
  *sum = sum_.load(std::memory_order_relaxed);
  *count = acc;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
}

std::vector<double> StageBuckets() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0004,
          0.0005,  0.00075,  0.001,   0.0015, 0.002,   0.003,  0.005,  0.0075,
          0.01,    0.015,    0.025,   0.05,   0.1,     0.25,   0.5,    1,
          5};
}

std::string FormatLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    absl::StrAppend(&out, labels[i].first, "=\"", Escape(labels[i].second), "\"");
  }
  out += "}";
  return out;
}

Registry::Family& Registry::GetFamily(const std::string& name, const std::string& type,
                                      const std::string& help) {
  Family& f = families_[name];
  if (f.type.empty()) {
    f.type = type;
    f.help = help;
  }
  return f;
}

Counter* Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  absl::MutexLock l(&mu_);
  auto& slot = GetFamily(name, "counter", help).counters[FormatLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* Registry::GetGauge(const std::string& name, const std::string& help,
                          const Labels& labels) {
  absl::MutexLock l(&mu_);
  auto& slot = GetFamily(name, "gauge", help).gauges[FormatLabels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& bounds, const Labels& labels) {
  absl::MutexLock l(&mu_);
  auto& slot = GetFamily(name, "histogram", help).histograms[FormatLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return slot.get();
}

void Registry::AddCallbackGauge(const std::string& name, const std::string& help,
                                std::function<double()> fn) {
  absl::MutexLock l(&mu_);
  GetFamily(name, "gauge", help).callback = std::move(fn);
}

std::string Registry::Render() const {
  absl::MutexLock l(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", f.type, "\n");
    for (const auto& [labels, c] : f.counters) {
      absl::StrAppend(&out, name, labels, " ", c->value(), "\n");
    }
    for (const auto& [labels, g] : f.gauges) {
      absl::StrAppend(&out, name, labels, " ", FormatNumber(g->value()), "\n");
    }
    if (f.callback) absl::StrAppend(&out, name, " ", FormatNumber(f.callback()), "\n");
    for (const auto& [labels, h] : f.histograms) {
      std::vector<uint64_t> cum;
      double sum;
      uint64_t count;
      h->Snapshot(&cum, &sum, &count);
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        absl::StrAppend(&out, name, "_bucket",
                        WithLabel(labels, absl::StrCat("le=\"", FormatNumber(h->bounds()[i]), "\"")),
                        " ", cum[i], "\n");
      }
      absl::StrAppend(&out, name, "_bucket", WithLabel(labels, "le=\"+Inf\""), " ", cum.back(), "\n");
      absl::StrAppend(&out, name, "_sum", labels, " ", FormatNumber(sum), "\n");
      absl::StrAppend(&out, name, "_count", labels, " ", count, "\n");
    }
  }
  return out;
}

}  // namespace concordance::metrics
