// Fuzzes snapshot images as a follower receives them from a leader: the
// input checked by KvStore::ValidateImage (the check every installed image
// passes first). Whatever it accepts must then restore into a real KvStore
// and serialize back; whatever it refuses must be refused with an error.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "storage/kv_store.h"

using namespace concordance;

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
    if (!store.ok()) abort();
    if (!(*store)->Restore(image).ok()) abort();  // validated, yet unusable
    if (!(*store)->Serialize().ok()) abort();
  }
  return 0;
}
