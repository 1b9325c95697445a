// Ending a command that runs until interrupted (watch, changes --follow).
#ifndef CONCORDANCE_TOOLS_CTL_SIGNALS_H_
#define CONCORDANCE_TOOLS_CTL_SIGNALS_H_

namespace concordance::ctl {

// From now on SIGINT and SIGTERM end the process at once with exit code 0.
// Callers flush each line they print, so nothing printed is lost.
void ExitOnInterrupt();

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_SIGNALS_H_
