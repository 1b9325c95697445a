#include "tests/jepsen/history_client.h"

#include <chrono>
#include <functional>

#include "absl/strings/str_cat.h"

namespace concordance::jepsen {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Operation HistoryClient::Record(Operation op, const std::function<Transport::Answer()>& call) {
  op.client = id_;
  op.call_ns = NowNs();
  Transport::Answer a = call();
  op.return_ns = NowNs();
  if (!a.keep) return op;
  op.outcome = a.outcome;
  if (a.outcome == Outcome::kOk) {
    op.read_value = a.value;
    op.version = a.version;
    seen_version_[op.key] = op.kind == OpKind::kDelete ? 0 : a.version;
  } else if (a.outcome == Outcome::kNotFound) {
    seen_version_[op.key] = 0;
  }
  history_.push_back(op);
  return op;
}

Operation HistoryClient::Get(const std::string& key) {
  Operation op;
  op.key = key;
  op.kind = OpKind::kGet;
  return Record(op, [&] { return transport_->Get(key); });
}

void HistoryClient::RandomOperation(std::minstd_rand* rng, int keys) {
  std::string key = absl::StrCat("k", (*rng)() % keys);
  int dice = static_cast<int>((*rng)() % 10);
  if (dice < 4) {
    Get(key);
    return;
  }
  Operation op;
  op.key = key;
  if (dice < 9) {
    op.kind = OpKind::kPut;
    op.value = absl::StrCat("c", id_, "-", next_value_++);
    if (dice >= 7) {
      auto it = seen_version_.find(key);
      op.expected_version = it == seen_version_.end() ? 0 : it->second;
    }
    Record(op, [&] { return transport_->Put(key, op.value, op.expected_version); });
  } else {
    op.kind = OpKind::kDelete;
    Record(op, [&] { return transport_->Delete(key); });
  }
}

}  // namespace concordance::jepsen
