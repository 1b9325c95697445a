#include "tools/ctl/config.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/flags.h"
#include "tools/ctl/input.h"

namespace concordance::ctl {
namespace {

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

absl::StatusOr<std::vector<std::string>> Endpoints(const Args& args) {
  std::string list =
      args.Given("endpoints") ? FLAGS_endpoints : Env("CONCORDANCE_ENDPOINTS");
  if (list.empty() && !args.Given("endpoints")) list = "127.0.0.1:4100";
  std::vector<std::string> out =
      absl::StrSplit(list, ',', absl::SkipWhitespace());
  for (std::string& e : out) e = std::string(absl::StripAsciiWhitespace(e));
  if (out.empty()) return UsageError("--endpoints names no host:port");
  return out;
}

// As the server reads its keys: a file holds one non-empty line.
absl::StatusOr<std::string> Key() {
  if (!FLAGS_key.empty() && !FLAGS_api_key_file.empty()) {
    return UsageError("give --key or --api-key-file, not both");
  }
  if (!FLAGS_key.empty()) return FLAGS_key;
  if (FLAGS_api_key_file.empty()) return Env("CONCORDANCE_API_KEY");
  absl::StatusOr<std::string> text = ReadInput(FLAGS_api_key_file);
  if (!text.ok()) return text.status();
  std::string key(absl::StripTrailingAsciiWhitespace(*text));
  if (key.empty() || key.find_first_of("\r\n") != std::string::npos) {
    return UsageError(absl::StrCat("--api-key-file ", FLAGS_api_key_file,
                                   " must hold one non-empty line"));
  }
  return key;
}

absl::StatusOr<std::chrono::milliseconds> Timeout() {
  absl::Duration d;
  if (!absl::ParseDuration(FLAGS_timeout, &d) || d <= absl::ZeroDuration() ||
      d > absl::Hours(24)) {
    return UsageError(
        absl::StrCat("--timeout=", FLAGS_timeout,
                     ": want a duration with a unit (500ms, 5s, 1m), at most 24h"));
  }
  return std::chrono::milliseconds(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

}  // namespace

absl::StatusOr<client::Options> ClientOptions(const Args& args) {
  client::Options o;
  absl::StatusOr<std::vector<std::string>> endpoints = Endpoints(args);
  if (!endpoints.ok()) return endpoints.status();
  absl::StatusOr<std::string> key = Key();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::chrono::milliseconds> timeout = Timeout();
  if (!timeout.ok()) return timeout.status();
  o.endpoints = *std::move(endpoints);
  o.key = *std::move(key);
  o.actor = FLAGS_actor;
  o.attempt_timeout = *timeout;
  o.retry_for = 2 * *timeout;
  std::string ca = args.Given("cacert") ? FLAGS_cacert : Env("CONCORDANCE_CACERT");
  if (!ca.empty() || !FLAGS_client_cert.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        client::TlsCredentials(ca, FLAGS_client_cert, FLAGS_client_key);
    if (!creds.ok()) return UsageError(std::string(creds.status().message()));
    o.credentials = *std::move(creds);
  }
  return o;
}

absl::StatusOr<Format> OutputFormat(const Args& args) {
  if (args.Given("o") && args.Given("output") && FLAGS_o != FLAGS_output) {
    return UsageError("-o and --output disagree");
  }
  std::string name = args.Given("o") ? FLAGS_o : FLAGS_output;
  if (name == "table") return Format::kTable;
  if (name == "json") return Format::kJson;
  return UsageError(absl::StrCat("--output=", name, ": want table or json"));
}

}  // namespace concordance::ctl
