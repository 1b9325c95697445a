#include "tests/lib/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

namespace concordance::testing {

namespace {

bool Bindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as the server does
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// [first, last] below the ephemeral range.
std::pair<int, int> ReservablePorts() {
  int ephemeral_low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> ephemeral_low;
  int last = std::max(ephemeral_low - 1, 10000);
  return {std::max(1024, last - 20000), last};
}

}  // namespace

int FreePort() {
  static const std::string dir = "/tmp/concordance-test-ports";
  mkdir(dir.c_str(), 0777);
  auto [first, last] = ReservablePorts();
  std::mt19937 rng(static_cast<unsigned>(getpid()) * 7919u ^
                   static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<int> pick(first, last);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = pick(rng);
    std::string path = dir + "/" + std::to_string(port);
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {  // another test process holds it
      close(fd);
      continue;
    }
    if (!Bindable(port)) {  // something else uses it
      close(fd);
      continue;
    }
    return port;  // fd stays open: the claim lasts as long as this process
  }
  fprintf(stderr, "FreePort: no reservable port in [%d, %d]\n", first, last);
  abort();
}

std::string RunfilePath(const std::string& rel) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* ws = getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return rel;
  return std::string(srcdir) + "/" + (ws ? ws : "concordance") + "/" + rel;
}

std::string ConcordanceBinary() {
  const char* override_path = getenv("CONCORDANCE_TEST_BINARY");
  if (override_path != nullptr && *override_path != 0) return override_path;
  return RunfilePath("concordance/concordance");
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  return made ? std::string(made) : std::string();
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Process::~Process() {
  if (pid_ > 0 && running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(5));
  }
}

bool Process::Start(const std::string& binary, const std::vector<std::string>& args,
                    const std::string& log_path, const std::vector<std::string>& env) {
  log_path_ = log_path;
  pid_ = fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // Nothing of the test's own leaks into the child: a client socket it
    // inherited would keep a connection to another node open after the
    // test closed it (and that node's graceful stop waiting for it).
    if (close_range(3, ~0U, 0) != 0) {
      for (int i = 3; i < 65536; ++i) close(i);
    }
    for (const std::string& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return true;
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    pid_ = -pid_;  // remember it exited
    return false;
  }
  return r == 0;
}

void Process::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Process::Wait(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return status_;
  bool exited = WaitFor([this] { return !running(); }, timeout);
  return exited ? status_ : -1;
}

std::string Process::ReadLog() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace concordance::testing
