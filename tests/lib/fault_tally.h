// FaultTally: counts the faults a test injected, by kind ("kill -9",
// "SIGSTOP", "partition", ...), so that a fault-injection run can report
// what it did (tests/jepsen records them per scenario). Process-wide and
// thread-safe; the helpers that inject faults (TestNode, PeerNetwork) note
// theirs, and a nemesis notes the rest (leadership transfers, membership
// changes).
#ifndef CONCORDANCE_TESTS_LIB_FAULT_TALLY_H_
#define CONCORDANCE_TESTS_LIB_FAULT_TALLY_H_

#include <map>
#include <string>

namespace concordance::testing::fault_tally {

void Note(const std::string& kind, int n = 1);
// Everything noted since the last Reset(), by kind.
std::map<std::string, int> Counts();
void Reset();

}  // namespace concordance::testing::fault_tally

#endif  // CONCORDANCE_TESTS_LIB_FAULT_TALLY_H_
