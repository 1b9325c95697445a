// Real wire-protocol clients for tests: HTTP/1.1 (keep-alive) and
// WebSocket, both with deadlines. Built on Beast, which stays in clients.cc.
#ifndef CONCORDANCE_TESTS_LIB_CLIENTS_H_
#define CONCORDANCE_TESTS_LIB_CLIENTS_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace concordance::testing {

struct HttpResult {
  int status = 0;  // 0: transport failure (see error)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;
  bool sent = false;  // the request left (false: the connection failed first)
};

// A client's TLS files (PEM): the CA that must have signed the server's
// certificate, and optionally this client's own certificate and key.
struct TlsClientFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Thread-safe: concurrent callers take turns on the one connection.
class HttpClient {
 public:
  // With `tls`: https://, the server's certificate verified for `host`.
  HttpClient(std::string host, int port, std::optional<TlsClientFiles> tls = std::nullopt);
  ~HttpClient();
  // One request on a kept-alive connection (reconnecting if needed).
  HttpResult Request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends raw bytes on a new connection and returns what comes back before
  // the server closes it or the deadline passes.
  std::string Raw(const std::string& bytes,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  int port() const { return port_; }
  // By default a request that fails on a kept-alive connection the server
  // closed is sent once more on a new one; off, it fails (a history client
  // must not send a write twice).
  void set_resend_on_closed(bool on) { resend_on_closed_ = on; }

 private:
  bool resend_on_closed_ = true;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string host_;
  int port_;
};

// Plain sockets, for tests that must control every byte and every close:
// a TCP connection to 127.0.0.1:port (-1 on failure), a send of all bytes,
// and a read until the end of an HTTP response head (or the deadline).
int TcpConnect(int port);
bool SendAll(int fd, const std::string& bytes);
std::string ReadHead(int fd, std::chrono::milliseconds timeout);

class WsClient {
 public:
  WsClient();
  ~WsClient();
  // Connects and upgrades; false with *error (e.g. the HTTP status of a
  // refused upgrade) otherwise.
  bool Connect(const std::string& host, int port, const std::string& target,
               const std::map<std::string, std::string>& headers = {},
               std::string* error = nullptr);
  // Sends wait for the frame to be written, at most this long (default 10 s).
  void set_send_timeout(std::chrono::milliseconds t);
  bool SendText(const std::string& text);
  bool SendBinary(const std::string& bytes);
  // The next message, or nullopt on timeout or close.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool closed() const;
  // The close code and reason the server sent, if it closed.
  int close_code() const;
  std::string close_reason() const;
  void Close();
  // Drops the connection at once, without a closing handshake.
  void Abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_LIB_CLIENTS_H_
