// concordancectl: the operator CLI of Concordance, over the generated gRPC
// client (//tools/client). `concordancectl help` lists the commands;
// tools/ctl/ has them, docs/operations.md describes them.
#include "tools/ctl/run.h"

int main(int argc, char** argv) { return concordance::ctl::Run(argc, argv); }
