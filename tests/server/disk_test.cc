// Disk faults on a real node (issue 13): its data dir on a small tmpfs that
// fills up. Nearly full, writes are refused with a clear, retryable error
// and accepted again once space is freed; a write that meets a full disk
// anyway (the guard off) or a failed fsync stops the node (exit 74) rather
// than go on; nothing acknowledged is lost; a restart recovers.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "gtest/gtest.h"
#include "tests/lib/node.h"

namespace concordance::testing {
namespace {

constexpr char kKey[] = "disk-api-key";
const std::map<std::string, std::string> kAuth = {
    {"Authorization", "Bearer disk-api-key"}};

// A tmpfs of `mb` MiB mounted for the test (needs root, as the tests do).
class SmallDisk {
 public:
  explicit SmallDisk(int mb) : dir_(MakeTempDir("small-disk")) {
    std::string size = "size=" + std::to_string(mb) + "m";
    mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, size.c_str()) == 0;
    if (!mounted_) perror("mount tmpfs");
  }
  ~SmallDisk() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  std::string data_dir() const { return dir_ + "/data"; }

  uint64_t Free() const {
    struct statvfs st;
    return statvfs(dir_.c_str(), &st) == 0
               ? static_cast<uint64_t>(st.f_bavail) * st.f_frsize
               : 0;
  }
  // Writes a ballast file until at most `leave` bytes are free (0: full).
  void FillLeaving(uint64_t leave) {
    FILE* f =
        fopen((dir_ + "/ballast-" + std::to_string(ballasts_++)).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string block(64 << 10, 'x');
    while (Free() > leave) {
      size_t n = std::min<uint64_t>(block.size(), Free() - leave);
      if (n == 0 || fwrite(block.data(), 1, n, f) != n || fflush(f) != 0) break;
    }
    fclose(f);
  }
  void FreeBallast() {
    for (int i = 0; i < ballasts_; ++i)
      unlink((dir_ + "/ballast-" + std::to_string(i)).c_str());
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  int ballasts_ = 0;
};

std::string Value(int i, size_t bytes) {
  return "{\"value\":\"" + std::to_string(i) + std::string(bytes, 'v') + "\"}";
}

// Writes `key` = i for i = 1, 2, … until `stop` says so; returns the last
// acknowledged i per key (acked[key]).
struct Writer {
  HttpClient http;
  std::map<std::string, int> acked;
  size_t value_bytes;
  int next = 1;
  Writer(int port, size_t bytes)
      : http("127.0.0.1", port), value_bytes(bytes) {}
  HttpResult Put(const std::string& key) {
    int i = next++;
    HttpResult r = http.Request("PUT", "/api/v1/kv/tenant:disk/s/" + key,
                                Value(i, value_bytes), kAuth);
    if (r.status == 200) acked[key] = i;
    return r;
  }
};

void ExpectAllAcknowledgedPresent(TestNode& node,
                                  const std::map<std::string, int>& acked,
                                  size_t bytes) {
  for (const auto& [key, i] : acked) {
    HttpResult r = node.http().Request("GET", "/api/v1/kv/tenant:disk/s/" + key,
                                       "", kAuth);
    ASSERT_EQ(r.status, 200) << key << ": " << r.body;
    EXPECT_EQ(JsonString(ParseJson(r.body), "value"),
              std::to_string(i) + std::string(bytes, 'v'))
        << key << " lost its acknowledged value " << i;
  }
}

TEST(DiskTest, NearlyFullRefusesWritesClearlyAndResumesOnceSpaceIsFreed) {
  SmallDisk disk(48);
  ASSERT_TRUE(disk.mounted()) << "mounting a tmpfs needs root";
  TestNode node("disk-guard");
  ASSERT_TRUE(node.Start({"--bootstrap", std::string("--api-key=") + kKey,
                          "--data-dir=" + disk.data_dir(),
                          "--min-free-disk-bytes=16777216"}));
  ASSERT_TRUE(node.WaitReady());
  Writer w(node.port(), 1000);
  for (int k = 0; k < 20; ++k)
    ASSERT_EQ(w.Put("k" + std::to_string(k)).status, 200);

  disk.FillLeaving(8 << 20);  // below the 16 MiB guard
  HttpResult refused;
  ASSERT_TRUE(WaitFor(
      [&] {
        refused = w.Put("k" + std::to_string(w.next % 20));
        return refused.status != 200;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(refused.status, 507) << refused.body;
  rapidjson::Document body = ParseJson(refused.body);
  ASSERT_TRUE(body.HasMember("error")) << refused.body;
  EXPECT_EQ(JsonString(body["error"], "code"), "disk_full") << refused.body;
  EXPECT_NE(JsonString(body["error"], "message").find("--min-free-disk-bytes"),
            std::string::npos)
      << refused.body;
  // Reads go on; nothing acknowledged is lost.
  ExpectAllAcknowledgedPresent(node, w.acked, 1000);

  disk.FreeBallast();
  ASSERT_TRUE(WaitFor([&] { return w.Put("after").status == 200; },
                      std::chrono::seconds(5)))
      << "writes resume once space is freed";
  ExpectAllAcknowledgedPresent(node, w.acked, 1000);
  std::string log = node.log();
  EXPECT_NE(log.find("refusing writes until space is freed"), std::string::npos)
      << log;
  EXPECT_NE(log.find("accepting writes"), std::string::npos) << log;
  EXPECT_EQ(node.Stop(), 0);
}

// The log line that says why the node stopped.
std::string WhyItStopped(TestNode& node) {
  std::string log = node.log();
  size_t at = log.find("stopping now");
  if (at == std::string::npos) return "";
  size_t begin = log.rfind('\n', at);
  return log.substr(begin == std::string::npos ? 0 : begin + 1,
                    log.find('\n', at) - begin);
}

// The wait status of a node that stopped by itself within `timeout` while
// `w` kept writing (-1 if it never did).
int WriteUntilTheNodeStops(TestNode& node, Writer& w,
                           std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int n = 0; node.running() && std::chrono::steady_clock::now() < deadline;
       ++n) {
    w.Put("k" + std::to_string(n % 50));
  }
  if (node.running()) return -1;
  return node.Stop();
}

TEST(DiskTest,
     AWriteThatMeetsAFullDiskStopsTheNodeAndLosesNothingAcknowledged) {
  SmallDisk disk(48);
  ASSERT_TRUE(disk.mounted()) << "mounting a tmpfs needs root";
  TestNode node("disk-full");
  std::vector<std::string> flags = {
      "--bootstrap", std::string("--api-key=") + kKey,
      "--data-dir=" + disk.data_dir(), "--min-free-disk-bytes=0"};
  ASSERT_TRUE(node.Start(flags));
  ASSERT_TRUE(node.WaitReady());
  Writer w(node.port(), 100 << 10);
  for (int k = 0; k < 20; ++k)
    ASSERT_EQ(w.Put("k" + std::to_string(k)).status, 200);
  disk.FillLeaving(0);
  int status = WriteUntilTheNodeStops(node, w, std::chrono::seconds(30));
  ASSERT_NE(status, -1) << "the node kept running on a full disk";
  ASSERT_TRUE(WIFEXITED(status)) << "the node crashed (signal "
                                 << WTERMSIG(status) << ") instead of stopping";
  EXPECT_EQ(WEXITSTATUS(status), 74);
  std::string why = WhyItStopped(node);
  EXPECT_NE(why, "") << node.log();
  printf("after %zu acknowledged writes: %s\n", w.acked.size(), why.c_str());

  disk.FreeBallast();
  ASSERT_TRUE(node.Start(flags));
  ASSERT_TRUE(node.WaitReady());
  ExpectAllAcknowledgedPresent(node, w.acked, 100 << 10);
  EXPECT_EQ(w.Put("k0").status, 200) << "the node recovered";
}

TEST(DiskTest, AFailedFsyncStopsTheNodeAndARestartRecovers) {
  TestNode node("fsync-error");
  std::vector<std::string> flags = {"--bootstrap",
                                    std::string("--api-key=") + kKey};
  std::vector<std::string> failing = flags;
  failing.insert(
      failing.end(),
      {"--fault-injection", "--failpoints=raft-save-before-commit=error@100"});
  ASSERT_TRUE(node.Start(failing));
  ASSERT_TRUE(node.WaitReady());
  Writer w(node.port(), 100);
  int status = WriteUntilTheNodeStops(node, w, std::chrono::seconds(30));
  ASSERT_NE(status, -1) << "the node went on after a failed fsync";
  ASSERT_TRUE(WIFEXITED(status)) << "the node crashed (signal "
                                 << WTERMSIG(status) << ") instead of stopping";
  EXPECT_EQ(WEXITSTATUS(status), 74);
  std::string why = WhyItStopped(node);
  EXPECT_NE(why.find("fsync failed"), std::string::npos) << node.log();
  printf("%s\n", why.c_str());
  EXPECT_FALSE(w.acked.empty());

  ASSERT_TRUE(node.Start(flags));
  ASSERT_TRUE(node.WaitReady());
  ExpectAllAcknowledgedPresent(node, w.acked, 100);
}

}  // namespace
}  // namespace concordance::testing
