#include "storage/test_util.h"

#include <stdlib.h>

#include <filesystem>

#include "gtest/gtest.h"

namespace concordance::storage::testing {

ScratchDir::ScratchDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/scratch-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr) << "mkdtemp " << tmpl;
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

raft::LogEntry Entry(uint64_t index, uint64_t term, raft::EntryType type,
                     const std::string& data) {
  raft::LogEntry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(type);
  e.set_data(data);
  return e;
}

raft::LogEntry CommandEntry(uint64_t index, uint64_t term, const kv::Command& cmd) {
  return Entry(index, term, raft::COMMAND, cmd.SerializeAsString());
}

kv::Command SetCommand(const std::string& ns, const std::string& key,
                       const std::string& json_value, int64_t timestamp_ms,
                       const std::string& actor) {
  kv::Command c;
  c.set_timestamp_ms(timestamp_ms);
  c.set_actor(actor);
  c.mutable_set()->set_namespace_(ns);
  c.mutable_set()->set_key(key);
  c.mutable_set()->set_value(json_value);
  return c;
}

kv::Command DeleteCommand(const std::string& ns, const std::string& key,
                          int64_t timestamp_ms, const std::string& actor) {
  kv::Command c;
  c.set_timestamp_ms(timestamp_ms);
  c.set_actor(actor);
  c.mutable_delete_()->set_namespace_(ns);
  c.mutable_delete_()->set_key(key);
  return c;
}

}  // namespace concordance::storage::testing
