// Failpoints: named places in the persistence path where a test can make a
// node crash (SIGKILL at exactly that point, as a power cut would) or
// stall. They are compiled into every build and cost one relaxed atomic
// load while nothing is armed; arming them is refused unless the node runs
// with --fault-injection (design.md §14, issue 13).
//
//   --fault-injection --failpoints='raft-save-before-commit=crash@200'
//
// Spec: `name=action[;name=action...]`, action `crash`, `sleep(MS)` or —
// where the point can fail — `error` (the step fails as an I/O error
// would), optionally `@N`: only the Nth time the point is reached
// (counting from 1), once. Names are checked against All(): a typo is an
// error.
#ifndef CONCORDANCE_UTIL_FAILPOINT_H_
#define CONCORDANCE_UTIL_FAILPOINT_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace concordance::failpoint {

// Every failpoint there is, with what it interrupts.
struct Known {
  const char* name;
  const char* where;
  bool can_fail = false;  // the caller acts on Hit()'s answer
};
const std::vector<Known>& All();

// Arms the failpoints of `spec` (replacing any armed before).
absl::Status Configure(const std::string& spec);

namespace internal {
extern std::atomic<bool> any_armed;
bool HitSlow(const char* name);
}  // namespace internal

// Reached `name`: crashes, sleeps or (almost always) does nothing. True
// when the step must fail here (action `error`).
inline bool Hit(const char* name) {
  return internal::any_armed.load(std::memory_order_relaxed) &&
         internal::HitSlow(name);
}

}  // namespace concordance::failpoint

#endif  // CONCORDANCE_UTIL_FAILPOINT_H_
