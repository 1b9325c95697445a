#include "gateway/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace concordance::gateway {
namespace {

namespace ssl = boost::asio::ssl;

// The queued OpenSSL errors as one line (and the queue cleared).
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

absl::Status Failed(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", OpenSslErrors()));
}

// http/1.1 when the client offers it (curl offers h2 too, but REST,
// /stream and /raft are HTTP/1.1), else h2 (gRPC offers only h2), else no
// ALPN at all: the first bytes decide, as on a cleartext port.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
               const unsigned char* in, unsigned int inlen, void*) {
  const unsigned char* h2 = nullptr;
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    const unsigned char* name = in + i + 1;
    if (len == 8 && std::memcmp(name, "http/1.1", 8) == 0) {
      *out = name;
      *outlen = 8;
      return SSL_TLSEXT_ERR_OK;
    }
    if (len == 2 && std::memcmp(name, "h2", 2) == 0) h2 = name;
    i += 1 + len;
  }
  if (h2 == nullptr) return SSL_TLSEXT_ERR_NOACK;
  *out = h2;
  *outlen = 2;
  return SSL_TLSEXT_ERR_OK;
}

// The certificate must be valid now: an expired one would be refused by
// every client, so it is refused here with its dates, not served.
absl::Status CheckValidity(const std::string& cert_file) {
  FILE* f = fopen(cert_file.c_str(), "r");
  if (f == nullptr)
    return absl::NotFoundError(
        absl::StrCat("cannot read --tls-cert-file ", cert_file));
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (cert == nullptr)
    return Failed(absl::StrCat("--tls-cert-file ", cert_file,
                               " holds no PEM certificate"));
  auto date = [](const ASN1_TIME* t) {
    BIO* b = BIO_new(BIO_s_mem());
    if (b == nullptr) return std::string("(date unknown)");
    ASN1_TIME_print(b, t);
    char* data;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, n);
    BIO_free(b);
    return s;
  };
  absl::Status s;
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    s = absl::FailedPreconditionError(
        absl::StrCat("--tls-cert-file ", cert_file, " expired on ",
                     date(X509_get0_notAfter(cert))));
  } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
    s = absl::FailedPreconditionError(
        absl::StrCat("--tls-cert-file ", cert_file, " is not valid before ",
                     date(X509_get0_notBefore(cert))));
  }
  X509_free(cert);
  return s;
}

absl::Status UseCertificate(SSL_CTX* ctx, const TlsFiles& files) {
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return Failed(absl::StrCat("--tls-cert-file ", files.cert_file));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return Failed(absl::StrCat("--tls-key-file ", files.key_file));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Failed(absl::StrCat("--tls-key-file ", files.key_file,
                               " does not match --tls-cert-file ",
                               files.cert_file));
  }
  return absl::OkStatus();
}

void CommonOptions(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

absl::StatusOr<TlsContexts::Pair> TlsContexts::Build(const TlsFiles& files) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls-cert-file and --tls-key-file");
  }
  ERR_clear_error();
  absl::Status valid = CheckValidity(files.cert_file);
  if (!valid.ok()) return valid;
  Pair p;
  p.server = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* s = p.server->native_handle();
  CommonOptions(s);
  SSL_CTX_set_options(s, SSL_OP_CIPHER_SERVER_PREFERENCE);
  absl::Status used = UseCertificate(s, files);
  if (!used.ok()) return used;
  SSL_CTX_set_alpn_select_cb(s, SelectAlpn, nullptr);
  static const unsigned char kSessionContext[] = "concordance";
  SSL_CTX_set_session_id_context(s, kSessionContext,
                                 sizeof(kSessionContext) - 1);
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(s, files.client_ca_file.c_str(),
                                      nullptr) != 1) {
      return Failed(
          absl::StrCat("--tls-client-ca-file ", files.client_ca_file));
    }
    STACK_OF(X509_NAME)* names =
        SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names == nullptr)
      return Failed(
          absl::StrCat("--tls-client-ca-file ", files.client_ca_file));
    SSL_CTX_set_client_CA_list(s, names);
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
  }

  p.client = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* c = p.client->native_handle();
  CommonOptions(c);
  // A node presents its own certificate when it dials (servers that ask
  // for client certificates get it).
  used = UseCertificate(c, files);
  if (!used.ok()) return used;
  const std::string& ca =
      !files.peer_ca_file.empty() ? files.peer_ca_file : files.client_ca_file;
  if (!ca.empty()) {
    if (SSL_CTX_load_verify_locations(c, ca.c_str(), nullptr) != 1) {
      return Failed(absl::StrCat(!files.peer_ca_file.empty()
                                     ? "--peer-tls-ca-file "
                                     : "--tls-client-ca-file ",
                                 ca));
    }
  } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
    return Failed("the system's CA certificates");
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kHttp11[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(c, kHttp11, sizeof(kHttp11) - 1);
  return p;
}

absl::StatusOr<std::shared_ptr<TlsContexts>> TlsContexts::Load(TlsFiles files) {
  absl::StatusOr<Pair> p = Build(files);
  if (!p.ok()) return p.status();
  auto t = std::make_shared<TlsContexts>(std::move(files));
  absl::MutexLock l(&t->mu_);
  t->current_ = std::move(*p);
  return t;
}

absl::Status TlsContexts::Reload() {
  absl::StatusOr<Pair> p = Build(files_);
  if (!p.ok()) return p.status();
  absl::MutexLock l(&mu_);
  current_ = std::move(*p);
  return absl::OkStatus();
}

std::shared_ptr<TlsContexts::Context> TlsContexts::server() const {
  absl::MutexLock l(&mu_);
  return current_.server;
}

std::shared_ptr<TlsContexts::Context> TlsContexts::client() const {
  absl::MutexLock l(&mu_);
  return current_.client;
}

absl::Status TlsContexts::PrepareDial(void* handle,
                                      const std::string& host) const {
  SSL* ssl = static_cast<SSL*>(handle);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (IsIpAddress(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
      return Failed(absl::StrCat("address ", host));
    return absl::OkStatus();
  }
  // SNI, and the name the certificate must carry.
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 ||
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1) {
    return Failed(absl::StrCat("host name ", host));
  }
  return absl::OkStatus();
}

absl::Status TlsContexts::CheckPeerName(void* handle,
                                        const std::string& node_id) const {
  if (!files_.peer_require_node_id) return absl::OkStatus();
  X509* cert = SSL_get1_peer_certificate(static_cast<SSL*>(handle));
  if (cert == nullptr)
    return absl::PermissionDeniedError("the peer presented no certificate");
  bool named = X509_check_host(cert, node_id.data(), node_id.size(),
                               X509_CHECK_FLAG_NO_WILDCARDS, nullptr) == 1;
  X509_free(cert);
  if (named) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("the peer's certificate does not name node id \"", node_id,
                   "\" in its subjectAltName (--peer-tls-require-node-id)"));
}

}  // namespace concordance::gateway
