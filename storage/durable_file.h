// Durable file operations on POSIX: the fsync steps that SQLite does not do
// for us (snapshot image files, the directories that hold them, and state.db
// whose commits are not fsynced under synchronous=NORMAL).
#ifndef CONCORDANCE_STORAGE_DURABLE_FILE_H_
#define CONCORDANCE_STORAGE_DURABLE_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace concordance::storage {

// fsyncs the directory `dir`, making entries created or renamed in it durable.
absl::Status FsyncDir(const std::string& dir);

// fsyncs the file at `path`: every write made to it before the call is
// durable when this returns. OK when the file does not exist and
// `missing_ok` is set.
absl::Status FsyncFile(const std::string& path, bool missing_ok);

// Writes `data` to `path` (in `dir`) durably: temporary file, fsync, rename,
// fsync of the directory. A crash leaves either the old file or the new one.
absl::Status WriteFileDurably(const std::string& dir, const std::string& path,
                              const std::string& data);

}  // namespace concordance::storage

#endif  // CONCORDANCE_STORAGE_DURABLE_FILE_H_
