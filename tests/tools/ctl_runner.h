// Running //tools:concordancectl from tests, as an operator would: its
// stdout, stderr and exit code kept apart.
#ifndef CONCORDANCE_TESTS_TOOLS_CTL_RUNNER_H_
#define CONCORDANCE_TESTS_TOOLS_CTL_RUNNER_H_

#include <chrono>
#include <string>
#include <vector>

#include "tests/lib/process.h"

namespace concordance::testing {

struct CtlResult {
  int exit_code = -1;  // -1: it did not exit in time (killed)
  std::string out;
  std::string err;
};

// A concordancectl process; `env` entries are NAME=value.
class Ctl {
 public:
  explicit Ctl(std::vector<std::string> env = {});
  // Starts it with `args`, stdin from `input`.
  bool Start(const std::vector<std::string>& args,
             const std::string& input = "");
  // Waits for its exit: the exit code, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  std::string Out() const;
  std::string Err() const;

 private:
  std::vector<std::string> env_;
  std::string dir_;
  Process process_;
};

// Runs concordancectl to completion (at most `timeout`).
CtlResult RunCtl(const std::vector<std::string>& args,
                 const std::vector<std::string>& env = {},
                 const std::string& input = "",
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_TOOLS_CTL_RUNNER_H_
