// Storage benchmarks on real files (the current directory, or $BENCH_DIR):
//   raft.db appends with 1 and 100 entries per transaction (one fsync each),
//   state.db applies of single-set commands, 1 and 100 per transaction.
// Run: bazel run -c opt //tools/bench:storage_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "storage/kv_store.h"
#include "storage/raft_log.h"

namespace concordance::storage {
namespace {

std::string BenchDir() {
  const char* d = getenv("BENCH_DIR");
  std::string base = d ? d : std::filesystem::temp_directory_path().string();
  std::string path = absl::StrCat(base, "/concordance-bench-", getpid());
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path;
}

void BM_RaftLogAppend(benchmark::State& state) {
  const int per_txn = state.range(0);
  std::string dir = BenchDir();
  auto log = std::move(*RaftLog::Open(dir + "/raft.db"));
  const std::string data(300, 'x');  // a small set command
  uint64_t index = 0;
  std::vector<raft::LogEntry> batch(per_txn);
  for (auto _ : state) {
    for (int i = 0; i < per_txn; ++i) {
      batch[i].set_index(++index);
      batch[i].set_term(1);
      batch[i].set_data(data);
    }
    absl::Status s = log->Save(nullptr, batch, nullptr);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * per_txn);
  state.counters["entries/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * per_txn), benchmark::Counter::kIsRate);
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RaftLogAppend)->Arg(1)->Arg(100)->UseRealTime()->MinTime(3);

void BM_KvStoreApply(benchmark::State& state) {
  const int per_txn = state.range(0);
  std::string dir = BenchDir();
  auto store = std::move(*KvStore::Open(dir + "/state.db"));
  const std::string value = absl::StrCat("\"", std::string(254, 'v'), "\"");
  uint64_t index = 0;
  std::vector<raft::LogEntry> batch(per_txn);
  std::vector<CommandResult> results;
  for (auto _ : state) {
    for (int i = 0; i < per_txn; ++i) {
      kv::Command c;
      c.set_timestamp_ms(index);
      c.set_actor("api");
      c.mutable_set()->set_namespace_("tenant:bench/settings");
      c.mutable_set()->set_key(absl::StrCat("k", index % 10000));
      c.mutable_set()->set_value(value);
      batch[i].set_index(++index);
      batch[i].set_term(1);
      batch[i].set_data(c.SerializeAsString());
    }
    results.clear();
    absl::Status s = store->Apply(batch, &results);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.counters["applies/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * per_txn), benchmark::Counter::kIsRate);
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_KvStoreApply)->Arg(1)->Arg(100)->UseRealTime()->MinTime(3);

}  // namespace
}  // namespace concordance::storage

BENCHMARK_MAIN();
