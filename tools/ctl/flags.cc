#include "tools/ctl/flags.h"

DEFINE_string(endpoints, "",
              "comma-separated host:port of cluster members (default: env "
              "CONCORDANCE_ENDPOINTS, else 127.0.0.1:4100)");
DEFINE_string(api_key_file, "", "file holding the API key (one line)");
DEFINE_string(key, "",
              "the API key (default: env CONCORDANCE_API_KEY; prefer it or "
              "--api-key-file: a flag is visible to every local user)");
DEFINE_string(actor, "", "writer identity sent as x-concordance-actor");
DEFINE_string(cacert, "",
              "connect over TLS, verifying the members' certificates with this PEM CA bundle "
              "(default: env CONCORDANCE_CACERT; cleartext when neither is set)");
DEFINE_string(client_cert, "", "PEM certificate to present (a cluster with --tls-client-ca-file)");
DEFINE_string(client_key, "", "PEM private key of --client-cert");
DEFINE_string(timeout, "5s",
              "deadline of each request, with a unit: 500ms, 5s, 1m "
              "(retries on another member stop after twice this)");
DEFINE_string(output, "table", "output format: table or json");
DEFINE_string(o, "", "short for --output");

DEFINE_bool(linearizable, false,
            "read what every acknowledged write left (a quorum round) "
            "instead of the answering node's local state");
DEFINE_int64(ttl, 0, "expire the key this many seconds after the write");
DEFINE_int64(expected_version, 0,
             "write only if the key is at this version (0: only if absent)");
DEFINE_int32(page_size, 100, "entries or changes per request (1-1000)");
DEFINE_string(namespace, "", "the namespace (tenant:T/scope) to follow");
DEFINE_string(tenant, "", "the tenant id to follow (all its namespaces)");
DEFINE_int64(from_seq, 0, "replay every change after this seq first");
DEFINE_int64(since, 0, "list the changes after this seq");
DEFINE_bool(follow, false,
            "keep waiting for new changes (long-poll) until interrupted");
DEFINE_int64(max_events, 0, "exit after printing this many changes (0: none)");

namespace concordance::ctl {

const std::vector<std::string>& GlobalFlags() {
  static const auto* flags = new std::vector<std::string>{
      "endpoints", "api_key_file", "key", "actor", "cacert", "client_cert",
      "client_key", "timeout", "output", "o"};  // -o last (help shows it with --output)
  return *flags;
}

}  // namespace concordance::ctl
