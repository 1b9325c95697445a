#include "tools/ctl/signals.h"

#include <signal.h>
#include <unistd.h>

namespace concordance::ctl {
namespace {

void ExitNow(int) { _exit(0); }  // async-signal-safe

}  // namespace

void ExitOnInterrupt() {
  struct sigaction sa = {};
  sa.sa_handler = ExitNow;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace concordance::ctl
