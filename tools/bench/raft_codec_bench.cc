// /raft message encodings: the RapidJSON codec in production
// (gateway/raft_codec.h) against protobuf's JSON mapping
// (google::protobuf::util), encode + decode of the same messages.
//   bazel run //tools/bench:raft_codec_bench
#include <benchmark/benchmark.h>
#include <google/protobuf/util/json_util.h>

#include "gateway/raft_codec.h"

namespace concordance {
using gateway::DecodeRaftMessage;
using gateway::EncodeRaftMessage;
namespace {

raft::Message Append(int entries, int bytes) {
  raft::Message m;
  m.set_from("node1");
  m.set_to("node2");
  m.set_term(42);
  auto* ae = m.mutable_append_entries();
  ae->set_prev_log_index(100000);
  ae->set_prev_log_term(42);
  ae->set_leader_commit(99990);
  for (int i = 0; i < entries; ++i) {
    raft::LogEntry* e = ae->add_entries();
    e->set_index(100001 + i);
    e->set_term(42);
    e->set_data(std::string(bytes, static_cast<char>('a' + i % 26)));
  }
  return m;
}

void BM_RapidJson(benchmark::State& state) {
  raft::Message m = Append(state.range(0), 300);
  std::string binary;
  size_t len;
  for (auto _ : state) {
    std::string json = EncodeRaftMessage(m, &binary);
    auto back = DecodeRaftMessage(json, &len);
    benchmark::DoNotOptimize(back);
  }
  state.SetItemsProcessed(state.iterations() * std::max<int64_t>(1, state.range(0)));
}
BENCHMARK(BM_RapidJson)->Arg(0)->Arg(1)->Arg(100);

void BM_ProtobufJson(benchmark::State& state) {
  raft::Message m = Append(state.range(0), 300);
  google::protobuf::util::JsonPrintOptions opts;
  for (auto _ : state) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(m, &json, opts);
    raft::Message back;
    (void)google::protobuf::util::JsonStringToMessage(json, &back);
    benchmark::DoNotOptimize(back);
  }
  state.SetItemsProcessed(state.iterations() * std::max<int64_t>(1, state.range(0)));
}
BENCHMARK(BM_ProtobufJson)->Arg(0)->Arg(1)->Arg(100);

}  // namespace
}  // namespace concordance

BENCHMARK_MAIN();
