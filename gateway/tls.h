// TLS for the one port and for the links a node dials (design.md §1, §7):
// the certificates and keys, loaded into OpenSSL contexts that the server
// (accepting) and the peer dialer and --join (dialing) take per connection.
//
// One certificate serves every path. The server offers ALPN "http/1.1"
// and "h2" and picks http/1.1 when a client offers it (curl, browsers,
// WebSocket clients), h2 when only h2 is offered (gRPC); what the
// connection carries is then told apart by its first bytes, as on a
// cleartext port.
//
// Reload() re-reads the files (SIGHUP): new connections use the new
// contexts, open ones keep theirs; on any error the old ones stay.
// Asio stays out of this header.
#ifndef CONCORDANCE_GATEWAY_TLS_H_
#define CONCORDANCE_GATEWAY_TLS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace concordance::gateway {

struct TlsFiles {
  std::string cert_file;  // PEM: the certificate (and its chain)
  std::string key_file;   // PEM: its private key
  // PEM CA bundle: clients must present a certificate it signed ("" = no
  // client certificate is asked for).
  std::string client_ca_file;
  // PEM CA bundle for the certificates of the nodes this one dials ("" =
  // the client CA if set, else the system's roots).
  std::string peer_ca_file;
  // A dialed node's certificate must name its node id (a DNS name in its
  // subjectAltName), besides the address it was dialed at.
  bool peer_require_node_id = false;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

class TlsContexts {
 public:
  using Context = boost::asio::ssl::context;

  // Loads and checks the files: the pair must match, the certificate must
  // be valid now. A clear error otherwise.
  static absl::StatusOr<std::shared_ptr<TlsContexts>> Load(TlsFiles files);

  // Re-reads the files; on error keeps the current contexts.
  absl::Status Reload();

  // For accepting and for dialing; each connection keeps the one it took.
  std::shared_ptr<Context> server() const;
  std::shared_ptr<Context> client() const;
  const TlsFiles& files() const { return files_; }

  // Where the peer's verified certificate is checked against the dialed
  // host (an IP address or a DNS name) and, with peer_require_node_id, the
  // node id. Returns an error naming what did not match.
  absl::Status CheckPeerName(void* ssl, const std::string& node_id) const;
  // Sets up a dialing connection (`ssl` is its SSL*): SNI and the expected
  // host name or IP address.
  absl::Status PrepareDial(void* ssl, const std::string& host) const;

  explicit TlsContexts(TlsFiles files) : files_(std::move(files)) {}

 private:
  struct Pair {
    std::shared_ptr<Context> server, client;
  };
  static absl::StatusOr<Pair> Build(const TlsFiles& files);

  const TlsFiles files_;
  mutable absl::Mutex mu_;
  Pair current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_TLS_H_
