// Fuzzes command decoding in the state machine: the input as the data of a
// committed COMMAND entry applied to a real KvStore (SQLite, state.db in a
// scratch directory). A command that does not decode or breaks a rule must
// be answered with an error result and change nothing; the applied index
// still moves (every replica skips it alike); the store stays readable.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "proto/raft.pb.h"
#include "storage/kv_store.h"

using namespace concordance;

namespace {

storage::KvStore* Store() {
  static storage::KvStore* store = [] {
    char dir[] = "/tmp/command-fuzzer-XXXXXX";
    if (mkdtemp(dir) == nullptr) abort();
    auto s = storage::KvStore::Open(std::string(dir) + "/state.db");
    if (!s.ok()) abort();
    return s->release();
  }();
  return store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  storage::KvStore* store = Store();
  raft::LogEntry e;
  e.set_index(store->AppliedIndex() + 1);
  e.set_term(1);
  e.set_type(raft::COMMAND);
  e.set_data(std::string(reinterpret_cast<const char*>(data), size));
  std::vector<storage::CommandResult> results;
  absl::Status s = store->Apply({e}, &results);
  if (!s.ok()) abort();  // a store error, not a verdict on the command
  if (store->AppliedIndex() != e.index()) abort();
  return 0;
}
