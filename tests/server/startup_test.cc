// Starting a node the way a careless operator would (design.md §7, §14):
// each mistake fails at once with a message naming the fix, and leaves the
// data dir as it was. Issue 10, items 2, 6, 11, 19, 20.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/lib/node.h"
#include "tests/lib/raft_peer.h"

namespace concordance::testing {
namespace {

// Runs the binary to its exit (it must not start serving); returns the exit
// code (-1 if it kept running) and the log.
int RunToExit(TestNode& node, const std::vector<std::string>& flags, std::string* log,
              const std::vector<std::string>& env = {}) {
  std::vector<std::string> args = {"--listen=127.0.0.1:" + std::to_string(node.port()),
                                   "--data-dir=" + node.data_dir()};
  args.insert(args.end(), flags.begin(), flags.end());
  Process p;
  std::string log_path = node.data_dir() + ".exit.log";
  if (!p.Start(ConcordanceBinary(), args, log_path, env)) return -2;
  int status = p.Wait(std::chrono::seconds(10));
  *log = p.ReadLog();
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

bool DirIsEmpty(const std::string& dir) {
  return !std::filesystem::exists(dir) || std::filesystem::is_empty(dir);
}

std::string WriteKeyFile(const std::string& dir, const std::string& name, const std::string& key) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << key << "\n";
  chmod(path.c_str(), 0600);
  return path;
}

// Item 2: an agent key alone would leave /raft without a key.
TEST(StartupTest, AgentKeyWithoutApiOrPeerKeyRefusesToStart) {
  TestNode node("agent-only");
  std::string log;
  EXPECT_EQ(RunToExit(node, {"--bootstrap", "--agent-key=read-only-key"}, &log), 1) << log;
  EXPECT_NE(log.find("--agent-key is set without --api-key or --peer-key"), std::string::npos)
      << log;
  EXPECT_TRUE(DirIsEmpty(node.data_dir()));
}

// Item 2: /raft is authenticated whenever any key is configured.
TEST(StartupTest, RaftTakesOnlyThePeerKeyWhenKeysAreSet) {
  TestNode node("raft-auth");
  ASSERT_TRUE(node.Start({"--bootstrap", "--api-key=api-key-1", "--agent-key=agent-key-1",
                          "--peer-key=peer-key-1"}));
  for (const char* key : {"", "agent-key-1", "api-key-1", "wrong"}) {
    RaftPeer peer;
    std::string error;
    EXPECT_FALSE(peer.Connect(node.port(), "intruder", key, &error)) << "key " << key;
    EXPECT_NE(error.find("401"), std::string::npos) << key << ": " << error;
  }
  RaftPeer peer;
  EXPECT_TRUE(peer.Connect(node.port(), "peer2", "peer-key-1"));
  node.Stop();
}

TEST(StartupTest, PeerKeyAloneRefusesToStart) {
  TestNode node("peer-only");
  std::string log;
  EXPECT_EQ(RunToExit(node, {"--bootstrap", "--peer-key=peer-key-1"}, &log), 1) << log;
  EXPECT_NE(log.find("--peer-key is set without --api-key or --agent-key"), std::string::npos)
      << log;
}

// Item 11: keys from files and the environment, never only the command line.
TEST(StartupTest, KeysFromFilesAndPeerKeyFromTheEnvironment) {
  TestNode node("key-files");
  std::string dir = MakeTempDir("keys");
  std::string api = WriteKeyFile(dir, "api.key", "file-api-key");
  std::string agent = WriteKeyFile(dir, "agent.key", "file-agent-key");
  ASSERT_TRUE(node.Start({"--bootstrap", "--api-key-file=" + api, "--agent-key-file=" + agent},
                         {"CONCORDANCE_PEER_KEY=env-peer-key"}));
  ASSERT_TRUE(node.WaitReady());
  EXPECT_EQ(node.http().Request("GET", "/api/v1/cluster/status").status, 401);
  EXPECT_EQ(node.http()
                .Request("PUT", "/api/v1/kv/tenant:f/s/k", "{\"value\":1}",
                         {{"Authorization", "Bearer file-api-key"}})
                .status,
            200);
  EXPECT_EQ(node.http()
                .Request("PUT", "/api/v1/kv/tenant:f/s/k", "{\"value\":1}",
                         {{"Authorization", "Bearer file-agent-key"}})
                .status,
            403);
  RaftPeer with_api, with_peer;
  EXPECT_FALSE(with_api.Connect(node.port(), "peer2", "file-api-key"));
  EXPECT_TRUE(with_peer.Connect(node.port(), "peer2", "env-peer-key"));
  EXPECT_EQ(node.log().find("peers authenticate on /raft with the API key"), std::string::npos);
  node.Stop();
}

TEST(StartupTest, WarnsWhenThePeerKeyFallsBackToTheApiKey) {
  TestNode node("peer-fallback");
  ASSERT_TRUE(node.Start({"--bootstrap"}, {"CONCORDANCE_API_KEY=env-api-key"}));
  EXPECT_NE(node.log().find("peers authenticate on /raft with the API key"), std::string::npos)
      << node.log();
  RaftPeer peer;
  EXPECT_TRUE(peer.Connect(node.port(), "peer2", "env-api-key"));
  node.Stop();
}

TEST(StartupTest, KeyFlagAndKeyFileTogetherAreRefused) {
  TestNode node("key-both");
  std::string dir = MakeTempDir("keys");
  std::string api = WriteKeyFile(dir, "api.key", "file-api-key");
  std::string log;
  EXPECT_EQ(RunToExit(node, {"--bootstrap", "--api-key=x", "--api-key-file=" + api}, &log), 2)
      << log;
  EXPECT_NE(log.find("not both"), std::string::npos) << log;
}

// Item 19: a port in use fails before the data dir is touched.
TEST(StartupTest, PortInUseFailsBeforeTouchingTheDataDir) {
  TestNode node("port-in-use");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(node.port()));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  std::string log;
  EXPECT_EQ(RunToExit(node, {"--bootstrap"}, &log), 1) << log;
  close(fd);
  EXPECT_NE(log.find("cannot listen on"), std::string::npos) << log;
  EXPECT_TRUE(DirIsEmpty(node.data_dir())) << "the data dir was initialised:\n" << log;
  // Once the port is free the same command starts a healthy node.
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  EXPECT_TRUE(node.WaitReady());
  node.Stop();
}

// Item 19: a host name is resolved before anything else.
TEST(StartupTest, ListenOnLocalhostByName) {
  TestNode node("localhost");
  std::string data = node.data_dir();
  Process p;
  std::string log_path = data + ".exit.log";
  ASSERT_TRUE(p.Start(ConcordanceBinary(),
                      {"--listen=localhost:" + std::to_string(node.port()), "--data-dir=" + data,
                       "--bootstrap"},
                      log_path));
  EXPECT_TRUE(WaitFor(
      [&] { return node.http().Request("GET", "/api/v1/ready").status == 200; },
      std::chrono::seconds(10)))
      << p.ReadLog();
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(std::chrono::seconds(10)), 0) << p.ReadLog();
}

// Item 20.
TEST(StartupTest, BootstrapAndJoinTogetherAreRefused) {
  TestNode node("bootstrap-join");
  std::string log;
  EXPECT_EQ(RunToExit(node, {"--bootstrap", "--join=127.0.0.1:1"}, &log), 1) << log;
  EXPECT_NE(log.find("--bootstrap and --join are exclusive"), std::string::npos) << log;
  EXPECT_TRUE(DirIsEmpty(node.data_dir()));
}

TEST(StartupTest, EmptyDataDirWithNeitherBootstrapNorJoinIsRefused) {
  TestNode node("neither");
  std::string log;
  EXPECT_EQ(RunToExit(node, {}, &log), 1) << log;
  EXPECT_NE(log.find("--bootstrap"), std::string::npos) << log;
  EXPECT_NE(log.find("--join"), std::string::npos) << log;
  EXPECT_TRUE(DirIsEmpty(node.data_dir()));
  // A data dir with state restarts without either.
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_EQ(node.Stop(), 0);
  ASSERT_TRUE(node.Start({}));
  EXPECT_TRUE(node.WaitReady());
  node.Stop();
}

// Item 6: the soft open-files limit is raised to the hard one.
TEST(StartupTest, RaisesTheOpenFilesLimitToItsHardLimit) {
  rlimit mine{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &mine), 0);
  rlimit lowered = mine;
  lowered.rlim_cur = std::min<rlim_t>(mine.rlim_max, 1024) / 2;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  TestNode node("fd-limit");
  bool started = node.Start({"--bootstrap"});
  setrlimit(RLIMIT_NOFILE, &mine);
  ASSERT_TRUE(started);
  std::ifstream limits("/proc/" + std::to_string(node.pid()) + "/limits");
  std::string line;
  bool seen = false;
  while (std::getline(limits, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(strlen("Max open files")));
    std::string soft, hard;
    fields >> soft >> hard;
    EXPECT_EQ(soft, hard) << line;
    seen = true;
  }
  EXPECT_TRUE(seen);
  node.Stop();
}

TEST(StartupTest, MaxConnectionsMustFitTheOpenFilesLimit) {
  TestNode node("max-connections");
  std::string log;
  EXPECT_EQ(RunToExit(node, {"--bootstrap", "--max-connections=4000000000"}, &log), 2) << log;
  EXPECT_NE(log.find("does not fit the open-files limit"), std::string::npos) << log;
  EXPECT_TRUE(DirIsEmpty(node.data_dir()));
}

// Item 6: out of file descriptors, the accept loop backs off instead of
// spinning (and flooding the log), and recovers once connections close.
TEST(StartupTest, AcceptBacksOffWhenOutOfFileDescriptors) {
  TestNode node("emfile");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  size_t open_fds = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(node.pid()) + "/fd")) {
    (void)e;
    ++open_fds;
  }
  rlimit original{};
  ASSERT_EQ(prlimit(node.pid(), RLIMIT_NOFILE, nullptr, &original), 0);
  rlimit tight{open_fds + 4, original.rlim_max};
  ASSERT_EQ(prlimit(node.pid(), RLIMIT_NOFILE, &tight, nullptr), 0);
  std::vector<int> idle;
  for (int i = 0; i < 40; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(node.port()));
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    idle.push_back(fd);
  }
  ASSERT_TRUE(WaitFor([&] { return node.log().find("accept failed") != std::string::npos; },
                      std::chrono::seconds(5)))
      << node.log();
  auto count = [&] {
    std::string log = node.log();
    size_t n = 0;
    for (size_t at = log.find("accept failed"); at != std::string::npos;
         at = log.find("accept failed", at + 1)) {
      ++n;
    }
    return n;
  };
  size_t before = count();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a measurement window, not a wait
  EXPECT_LE(count() - before, 2u) << "the accept loop logs on every failure";
  for (int fd : idle) close(fd);
  ASSERT_EQ(prlimit(node.pid(), RLIMIT_NOFILE, &original, nullptr), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        HttpClient fresh("127.0.0.1", node.port());
        return fresh.Request("GET", "/api/v1/health", "", {}, std::chrono::milliseconds(500))
                   .status == 200;
      },
      std::chrono::seconds(10)));
  node.Stop();
}

}  // namespace
}  // namespace concordance::testing
