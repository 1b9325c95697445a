// concordancectl's main: parse the command line, find the command, run it
// with a client built from the global flags, and turn its outcome into an
// exit code (errors.h) and, on failure, one error line on stderr.
#ifndef CONCORDANCE_TOOLS_CTL_RUN_H_
#define CONCORDANCE_TOOLS_CTL_RUN_H_

namespace concordance::ctl {

int Run(int argc, const char* const* argv);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_RUN_H_
