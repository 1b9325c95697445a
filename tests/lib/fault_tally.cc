#include "tests/lib/fault_tally.h"

#include <mutex>

namespace concordance::testing::fault_tally {
namespace {

std::mutex mu;
std::map<std::string, int>& Table() {
  static auto* table = new std::map<std::string, int>();
  return *table;
}

}  // namespace

void Note(const std::string& kind, int n) {
  std::lock_guard<std::mutex> l(mu);
  Table()[kind] += n;
}

std::map<std::string, int> Counts() {
  std::lock_guard<std::mutex> l(mu);
  return Table();
}

void Reset() {
  std::lock_guard<std::mutex> l(mu);
  Table().clear();
}

}  // namespace concordance::testing::fault_tally
