// Certificates for TLS tests, made with the `openssl` command while the test
// runs: a CA, certificates it signs (for given subjectAltNames), and an
// expired one (signed under libfaketime's clock three days back).
#ifndef CONCORDANCE_TESTS_LIB_CERTS_H_
#define CONCORDANCE_TESTS_LIB_CERTS_H_

#include <optional>
#include <string>

namespace concordance::testing {

struct CertFiles {
  std::string cert;  // PEM
  std::string key;   // PEM
};

class TestCa {
 public:
  // A new CA (EC P-256) in a fresh directory; nullopt (logged) on failure.
  static std::optional<TestCa> Make(const std::string& name);

  // A certificate for `sans` (e.g. "IP:127.0.0.1,DNS:node1"), valid for
  // servers and clients. `expired`: its validity ended yesterday.
  std::optional<CertFiles> Issue(const std::string& name,
                                 const std::string& sans,
                                 bool expired = false) const;

  const std::string& cert() const { return files_.cert; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  CertFiles files_;
};

// The serial number (hex, as `openssl x509 -serial` prints it) of a PEM
// certificate file, or of the certificate a TLS server on 127.0.0.1:port
// presents (verified against `ca`); "" on failure.
std::string CertSerial(const std::string& cert_file);
std::string ServedCertSerial(int port, const std::string& ca);

// Runs `command` under /bin/sh; its exit status (-1 if it could not run),
// with stdout and stderr in *output.
int RunShell(const std::string& command, std::string* output = nullptr);

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_LIB_CERTS_H_
