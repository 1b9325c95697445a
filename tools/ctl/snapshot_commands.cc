// snapshot save FILE: the backup of GET /api/v1/snapshot over gRPC, written
// durably (FILE.part, fsync, rename); snapshot restore: how to start a new
// cluster from one (the server does it).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/ctl/command.h"
#include "tools/ctl/records.h"

namespace concordance::ctl {
namespace {

// "12.3 MiB"
std::string Bytes(uint64_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  if (n < (1 << 20)) return absl::StrFormat("%.1f KiB", n / 1024.0);
  return absl::StrFormat("%.1f MiB", n / 1048576.0);
}

// The progress line on stderr: rewritten in place on a terminal, else a
// line every second.
class Progress {
 public:
  void Update(uint64_t received, uint64_t total) {
    auto now = std::chrono::steady_clock::now();
    if (received < total &&
        now - last_ < std::chrono::milliseconds(tty_ ? 100 : 1000)) {
      return;
    }
    last_ = now;
    int percent = total > 0 ? static_cast<int>(received * 100 / total) : 100;
    std::cerr << (tty_ ? "\r" : "") << "snapshot: " << Bytes(received) << " of "
              << Bytes(total) << " (" << percent << "%)" << (tty_ ? "" : "\n")
              << std::flush;
  }
  void Done() {
    if (tty_) std::cerr << "\n";
  }

 private:
  const bool tty_ = isatty(STDERR_FILENO);
  std::chrono::steady_clock::time_point last_{};
};

absl::Status Errno(const std::string& what) {
  return absl::UnknownError(absl::StrCat(what, ": ", strerror(errno)));
}

// fsync of a file or directory by name.
absl::Status Sync(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open " + path);
  int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("cannot fsync " + path);
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Downloads into `part`; its size and checksum.
absl::StatusOr<client::SnapshotInfo> Download(client::Client& c,
                                              const std::string& part) {
  std::ofstream out(part, std::ios::binary | std::ios::trunc);
  if (!out) return Errno("cannot write " + part);
  Progress progress;
  absl::StatusOr<client::SnapshotInfo> info = c.Snapshot(
      &out, [&](uint64_t got, uint64_t total) { progress.Update(got, total); });
  progress.Done();
  out.close();
  if (info.ok() && out.fail()) return Errno("cannot write " + part);
  return info;
}

absl::Status Save(Env& env, const Operands& a) {
  const std::string& path = a[0];
  const std::string part = path + ".part";
  absl::StatusOr<client::SnapshotInfo> info = Download(env.client, part);
  absl::Status s = info.status();
  if (s.ok()) s = Sync(part);
  if (s.ok() && rename(part.c_str(), path.c_str()) != 0)
    s = Errno("cannot rename " + part);
  if (!s.ok()) {
    unlink(part.c_str());
    return s;
  }
  s = Sync(DirOf(path));
  if (!s.ok()) return s;
  if (env.format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) {
      w.StartObject();
      w.Key("file");
      WriteString(w, path);
      w.Key("size");
      w.Uint64(info->size);
      w.Key("sha256");
      WriteString(w, info->sha256);
      w.EndObject();
    }) << "\n";
  } else {
    std::cout << "saved " << path << ": " << info->size << " bytes, sha256 "
              << info->sha256 << "\n";
  }
  return absl::OkStatus();
}

absl::Status Restore(Env&, const Operands& a) {
  std::string file = a.empty() ? "FILE" : a[0];
  std::cout
      << "A backup is restored by the server, into a new cluster:\n\n"
      << "  concordance --bootstrap --restore=" << file
      << " --data-dir=EMPTY_DIR --node-id=node1 \\\n"
      << "      --listen=HOST:PORT --api-key-file=...\n\n"
      << "on an empty data dir (--restore refuses one that holds state). The "
         "backup becomes\nthe new cluster's first snapshot; start the other "
         "nodes with --join as usual.\nSee docs/operations.md, \"Backup and "
         "restore\".\n";
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> SnapshotCommands() {
  return {
      {"snapshot save",
       "FILE",
       "save a backup (a consistent copy of state.db) to FILE; prints its "
       "size and SHA-256",
       {},
       1,
       1,
       Save},
      {"snapshot restore",
       "[FILE]",
       "explain how to start a new cluster from a backup",
       {},
       0,
       1,
       Restore,
       /*needs_client=*/false},
  };
}

}  // namespace concordance::ctl
