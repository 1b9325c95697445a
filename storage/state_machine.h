// StateMachine: the face a Raft driver needs from whatever applies committed
// entries. KvStore implements it on state.db; tests may implement it in
// memory.
#ifndef CONCORDANCE_STORAGE_STATE_MACHINE_H_
#define CONCORDANCE_STORAGE_STATE_MACHINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/concordance/v1/types.pb.h"
#include "proto/kv.pb.h"
#include "proto/raft.pb.h"
#include "util/status_payloads.h"

namespace concordance::storage {

// What applying one COMMAND entry did.
struct CommandResult {
  uint64_t index = 0;  // log index of the entry
  // OK; Aborted for a version mismatch (payloads kCurrentVersion
  // and, in a batch, kOpIndex); NotFound for a delete of an absent key;
  // InvalidArgument for a command that could not be decoded. A failed
  // command writes nothing.
  absl::Status status;
  // Changelog rows written, in order (one per op; an op that replaced an
  // expired entry is preceded by that entry's expire event).
  std::vector<v1::ChangeEvent> changes;
};


class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies `entries` (ascending, contiguous) in one atomic transaction that
  // also records the last entry's index and term as applied. Entries at or
  // below AppliedIndex() are skipped, so replay after a crash is harmless.
  // One CommandResult per COMMAND entry applied is appended to *results.
  virtual absl::Status Apply(absl::Span<const raft::LogEntry> entries,
                             std::vector<CommandResult>* results) = 0;
  virtual uint64_t AppliedIndex() const = 0;
  virtual uint64_t AppliedTerm() const = 0;
  // A self-contained image of the state (applied index included).
  virtual absl::StatusOr<std::string> Serialize() = 0;
  // Replaces the whole state with an image from Serialize().
  virtual absl::Status Restore(const std::string& image) = 0;
  // A hash of the replicated content, equal on replicas that applied the
  // same log prefix.
  virtual absl::StatusOr<std::string> ContentHash() = 0;
};

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_STATE_MACHINE_H_
