// Running real `concordance` processes in tests: free loopback ports,
// spawn with arguments, capture the log, signal, wait with deadlines.
#ifndef CONCORDANCE_TESTS_LIB_PROCESS_H_
#define CONCORDANCE_TESTS_LIB_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace concordance::testing {

// A port on 127.0.0.1 reserved for this test process. Test processes run in
// parallel and a port freed by one can be handed to another, so ports come
// from below the kernel's ephemeral range (never given out for port 0 or
// outgoing connections) and each is claimed with an flock on
// /tmp/concordance-test-ports/<port>, held until this process exits.
int FreePort();

// The path of a binary in the test's runfiles (e.g. "concordance/concordance").
std::string RunfilePath(const std::string& workspace_relative);

// The concordance binary the suites run: the one in the runfiles, or
// $CONCORDANCE_TEST_BINARY when set — to check that a regression test fails
// on an older build (bazel test --test_env=CONCORDANCE_TEST_BINARY=/path).
std::string ConcordanceBinary();

// A fresh directory under $TEST_TMPDIR.
std::string MakeTempDir(const std::string& prefix);

// Polls `cond` every 10 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

class Process {
 public:
  Process() = default;
  ~Process();  // kills (SIGKILL) a process still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts `binary` with `args`; stdout and stderr go to `log_path`.
  bool Start(const std::string& binary, const std::vector<std::string>& args,
             const std::string& log_path, const std::vector<std::string>& env = {});
  bool running();
  void Signal(int sig);
  // Waits for exit; returns the wait status, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  std::string ReadLog() const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string log_path_;
};

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_LIB_PROCESS_H_
