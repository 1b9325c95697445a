// Helpers for storage tests: scratch directories and command builders.
#ifndef CONCORDANCE_STORAGE_TEST_UTIL_H_
#define CONCORDANCE_STORAGE_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "proto/kv.pb.h"
#include "proto/raft.pb.h"

namespace concordance::storage::testing {

// A fresh empty directory under $TEST_TMPDIR (or /tmp), removed with its
// contents on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

raft::LogEntry Entry(uint64_t index, uint64_t term,
                     raft::EntryType type = raft::COMMAND,
                     const std::string& data = "");

// A COMMAND entry carrying `cmd`.
raft::LogEntry CommandEntry(uint64_t index, uint64_t term, const kv::Command& cmd);

kv::Command SetCommand(const std::string& ns, const std::string& key,
                       const std::string& json_value, int64_t timestamp_ms,
                       const std::string& actor = "api");
kv::Command DeleteCommand(const std::string& ns, const std::string& key,
                          int64_t timestamp_ms, const std::string& actor = "api");

}  // namespace concordance::storage::testing

#endif  // CONCORDANCE_STORAGE_TEST_UTIL_H_
