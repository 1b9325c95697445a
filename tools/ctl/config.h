// The global flags as the client library's options and an output format.
#ifndef CONCORDANCE_TOOLS_CTL_CONFIG_H_
#define CONCORDANCE_TOOLS_CTL_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "tools/client/client.h"
#include "tools/ctl/args.h"

namespace concordance::ctl {

enum class Format { kTable, kJson };

// --endpoints (else $CONCORDANCE_ENDPOINTS, else 127.0.0.1:4100), the key
// (--key or --api-key-file, not both; else $CONCORDANCE_API_KEY),
// --actor and --timeout. Usage errors for bad values.
absl::StatusOr<client::Options> ClientOptions(const Args& args);

// --output / -o: table (default) or json.
absl::StatusOr<Format> OutputFormat(const Args& args);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_CONFIG_H_
