#include "storage/durable_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace concordance::storage {

absl::Status FsyncDir(const std::string& dir) {
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return absl::InternalError(absl::StrCat("cannot open directory ", dir));
  int rc = fsync(dfd);
  close(dfd);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot fsync directory ", dir));
  return absl::OkStatus();
}

absl::Status FsyncFile(const std::string& path, bool missing_ok) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && missing_ok) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("cannot open ", path));
  }
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot fsync ", path));
  return absl::OkStatus();
}

absl::Status WriteFileDurably(const std::string& dir, const std::string& path,
                              const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", tmp));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", tmp));
    }
    done += n;
  }
  if (fsync(fd) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("cannot fsync ", tmp));
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp));
  }
  return FsyncDir(dir);
}

}  // namespace concordance::storage
