// Every flag of concordancectl, in one place so that help can list them
// (gflags holds their descriptions; run.cc decides which apply to which
// command). Spelled with dashes on the command line (--expected-version).
#ifndef CONCORDANCE_TOOLS_CTL_FLAGS_H_
#define CONCORDANCE_TOOLS_CTL_FLAGS_H_

#include <string>
#include <vector>

#include "gflags/gflags.h"

// gflags' own, which concordancectl takes too.
DECLARE_bool(help);
DECLARE_bool(version);

// Global: where, who, how long, how to print (config.h reads them).
DECLARE_string(endpoints);
DECLARE_string(api_key_file);
DECLARE_string(key);
DECLARE_string(actor);
DECLARE_string(cacert);
DECLARE_string(client_cert);
DECLARE_string(client_key);
DECLARE_string(timeout);
DECLARE_string(output);
DECLARE_string(o);

// Command flags.
DECLARE_bool(linearizable);
DECLARE_int64(ttl);
DECLARE_int64(expected_version);
DECLARE_int32(page_size);
DECLARE_string(namespace);
DECLARE_string(tenant);
DECLARE_int64(from_seq);
DECLARE_int64(since);
DECLARE_bool(follow);
DECLARE_int64(max_events);

namespace concordance::ctl {

// The flags every command takes, in help's order ("o" last); the others
// belong to the commands that list them.
const std::vector<std::string>& GlobalFlags();

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_FLAGS_H_
