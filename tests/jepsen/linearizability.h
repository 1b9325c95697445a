// A linearizability checker for histories of Concordance's key operations
// (Wing & Gong's search with Lowe's memoization, per-key partitioning as
// Porcupine does). The model is a versioned register per key:
//
//   state   absent (version 0), or a value at version v >= 1
//   get     answers the value and version, or not found
//   put     with expectedVersion e: a conflict unless the version is e
//           (0 = absent); else the value at version + 1
//   delete  with e: a conflict unless the version is e; not found when
//           absent; else absent (version 0)
//
// An operation that got no answer (a timeout, a reset after sending) is
// indeterminate: it may have taken effect at any point after its call, or
// never. Indeterminate reads constrain nothing and are dropped.
#ifndef CONCORDANCE_TESTS_JEPSEN_LINEARIZABILITY_H_
#define CONCORDANCE_TESTS_JEPSEN_LINEARIZABILITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace concordance::jepsen {

enum class OpKind { kGet, kPut, kDelete };
enum class Outcome { kOk, kNotFound, kConflict, kIndeterminate };

struct Operation {
  std::string key;  // namespace and key together
  OpKind kind = OpKind::kGet;
  std::string value;                        // put: the value written
  std::optional<int64_t> expected_version;  // put, delete: the CAS guard
  Outcome outcome = Outcome::kIndeterminate;
  std::string read_value;     // get, kOk
  int64_t version = 0;        // get kOk: read; put kOk: written
  int64_t call_ns = 0;        // when the request was sent
  int64_t return_ns = 0;      // when its answer arrived (not for kIndeterminate)
  int client = 0;             // for messages
};

std::string Describe(const Operation& op);

struct Verdict {
  bool linearizable = true;
  bool complete = true;  // false: the search budget ran out (no verdict)
  std::string key;       // the first key that failed
  // The operation the search could not place, and the most operations of
  // that key it could linearize before it.
  std::string explanation;
  size_t operations = 0;
};

// Checks every key of `history`; stops at the first that fails.
// `max_steps_per_key` bounds the search (a key that needs more has no
// verdict: complete = false).
Verdict CheckLinearizable(const std::vector<Operation>& history, uint64_t max_steps_per_key = 20'000'000);

}  // namespace concordance::jepsen

#endif  // CONCORDANCE_TESTS_JEPSEN_LINEARIZABILITY_H_
