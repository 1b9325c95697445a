#include "tests/lib/certs.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "tests/lib/process.h"

namespace concordance::testing {
namespace {

constexpr char kFaketime[] =
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

std::string Quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

int RunShell(const std::string& command, std::string* output) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  int status = pclose(p);
  if (output) *output = out;
  if (status == -1 || !WIFEXITED(status)) return -1;
  if (WEXITSTATUS(status) != 0 && output == nullptr)
    fprintf(stderr, "%s:\n%s\n", command.c_str(), out.c_str());
  return WEXITSTATUS(status);
}

std::optional<TestCa> TestCa::Make(const std::string& name) {
  TestCa ca;
  ca.dir_ = MakeTempDir("ca-" + name);
  ca.files_ = {ca.dir_ + "/ca.pem", ca.dir_ + "/ca.key"};
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 30 "
      "-subj " +
      Quote("/CN=" + name) + " -keyout " + Quote(ca.files_.key) + " -out " +
      Quote(ca.files_.cert);
  if (RunShell(cmd) != 0) return std::nullopt;
  return ca;
}

std::optional<CertFiles> TestCa::Issue(const std::string& name,
                                       const std::string& sans,
                                       bool expired) const {
  std::string base = dir_ + "/" + name;
  CertFiles f{base + ".pem", base + ".key"};
  FILE* ext = fopen((base + ".ext").c_str(), "w");
  if (ext == nullptr) return std::nullopt;
  fprintf(ext, "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n",
          sans.c_str());
  fclose(ext);
  std::string req =
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-subj " +
      Quote("/CN=" + name) + " -keyout " + Quote(f.key) + " -out " +
      Quote(base + ".csr");
  std::string sign = "openssl x509 -req -in " + Quote(base + ".csr") + " -CA " +
                     Quote(files_.cert) + " -CAkey " + Quote(files_.key) +
                     " -CAcreateserial -days " + (expired ? "1" : "30") +
                     " -extfile " + Quote(base + ".ext") + " -out " +
                     Quote(f.cert);
  if (expired)
    sign = std::string("LD_PRELOAD=") + kFaketime + " FAKETIME=-3d " + sign;
  if (RunShell(req) != 0 || RunShell(sign) != 0) return std::nullopt;
  return f;
}

std::string CertSerial(const std::string& cert_file) {
  std::string out;
  if (RunShell("openssl x509 -noout -serial -in " + Quote(cert_file), &out) !=
      0)
    return "";
  while (!out.empty() && isspace(static_cast<unsigned char>(out.back())))
    out.pop_back();
  return out;
}

std::string ServedCertSerial(int port, const std::string& ca) {
  std::string out;
  std::string cmd =
      "openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
      " -CAfile " + Quote(ca) +
      " -verify_return_error </dev/null 2>/dev/null |"
      " openssl x509 -noout -serial";
  if (RunShell(cmd, &out) != 0) return "";
  while (!out.empty() && isspace(static_cast<unsigned char>(out.back())))
    out.pop_back();
  return out;
}

}  // namespace concordance::testing
