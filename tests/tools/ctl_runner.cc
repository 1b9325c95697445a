#include "tests/tools/ctl_runner.h"

#include <sys/wait.h>

#include <fstream>
#include <sstream>

namespace concordance::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Ctl::Ctl(std::vector<std::string> env) : env_(std::move(env)) {}

bool Ctl::Start(const std::vector<std::string>& args,
                const std::string& input) {
  dir_ = MakeTempDir("ctl");
  std::ofstream(dir_ + "/stdin") << input;
  // Process sends stdout and stderr to one file; a shell keeps them apart.
  std::vector<std::string> argv = {
      "-c", "exec \"$0\" \"$@\" <\"$CTL_DIR/stdin\" 2>\"$CTL_DIR/stderr\"",
      RunfilePath("tools/concordancectl")};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = env_;
  env.push_back("CTL_DIR=" + dir_);
  return process_.Start("/bin/sh", argv, dir_ + "/stdout", env);
}

int Ctl::Wait(std::chrono::milliseconds timeout) {
  int status = process_.Wait(timeout);
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Ctl::Out() const { return ReadFile(dir_ + "/stdout"); }
std::string Ctl::Err() const { return ReadFile(dir_ + "/stderr"); }

CtlResult RunCtl(const std::vector<std::string>& args,
                 const std::vector<std::string>& env, const std::string& input,
                 std::chrono::milliseconds timeout) {
  Ctl ctl(env);
  CtlResult r;
  if (!ctl.Start(args, input)) return r;
  r.exit_code = ctl.Wait(timeout);
  r.out = ctl.Out();
  r.err = ctl.Err();
  return r;
}

}  // namespace concordance::testing
