// Fuzzes snapshot images as a follower receives them from a leader: the
// input checked by KvStore::ValidateImage (the check every installed image
// passes first). Whatever it accepts must then restore into a real KvStore
// and serialize back; whatever it refuses must be refused with an error.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/kv_store.h"

using namespace concordance;

namespace {

[[noreturn]] void Fail(const char* what, const absl::Status& s) {
  fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string image(reinterpret_cast<const char*>(data), size);
  // The (index, term) a leader would announce: those of the seed images
  // (applied_index and applied_term in their meta table) and an empty one.
  const std::pair<uint64_t, uint64_t> announced[] = {{0, 0}, {6, 2}};
  for (auto [index, term] : announced) {
    absl::Status s = storage::KvStore::ValidateImage(image, index, term);
    if (!s.ok()) continue;
    static std::string dir = [] {
      char d[] = "/tmp/snapshot-fuzzer-XXXXXX";
      if (mkdtemp(d) == nullptr) abort();
      return std::string(d);
    }();
    auto store = storage::KvStore::Open(dir + "/state.db");
    if (!store.ok()) Fail("cannot open the scratch store", store.status());
    absl::Status restored = (*store)->Restore(image);
    if (!restored.ok())
      Fail("a validated image does not restore",
           restored);  // validated, yet unusable
    absl::StatusOr<std::string> again = (*store)->Serialize();
    if (!again.ok())
      Fail("a restored image does not serialize", again.status());
  }
  return 0;
}
