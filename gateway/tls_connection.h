// TlsConnection: one TLS connection bridged to a plaintext socket pair, so
// that every protocol on the port — HTTP/1.1, WebSocket, /raft, and gRPC
// (which takes a plain descriptor, AddInsecureChannelFromFd) — runs over
// TLS unchanged, and so does the peer dialer's WebSocket
// (docs/architecture.md, "TLS").
//
// After the handshake it makes a socketpair(AF_UNIX), hands one end to the
// caller and copies between the other end and the TLS stream, both ways,
// 16 KiB at a time (so at most that much is buffered per direction). The
// end of the plaintext side sends close_notify and closes; the end of the
// TLS side shuts the plaintext side's sending half. Internal to gateway/:
// it includes Asio.
#ifndef CONCORDANCE_GATEWAY_TLS_CONNECTION_H_
#define CONCORDANCE_GATEWAY_TLS_CONNECTION_H_

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"

namespace concordance::gateway {

class TlsConnection : public std::enable_shared_from_this<TlsConnection> {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using Role = boost::asio::ssl::stream_base::handshake_type;

  // `socket` is connected; its executor (a strand, or a one-thread
  // context) runs every handler. `ctx` is kept for the connection's life.
  // A write to the TLS side that makes no progress for `write_timeout`
  // (the peer stopped reading) closes the connection.
  TlsConnection(
      Socket socket, std::shared_ptr<boost::asio::ssl::context> ctx,
      std::chrono::milliseconds write_timeout = std::chrono::seconds(30));

  // The connection's SSL*, to prepare a dial before Start or to read the
  // peer's certificate in `ready`.
  SSL* ssl() { return tls_.native_handle(); }

  // Handshakes within `timeout`. Then `ready` gets the plaintext end of the
  // socket pair (the caller owns it) or the handshake's error; `closed`
  // runs once, when both directions have ended (after a failed handshake
  // too). Both run on the socket's executor.
  void Start(Role role, std::chrono::milliseconds timeout,
             std::function<void(absl::StatusOr<int>)> ready,
             std::function<void()> closed);

  // Ends the connection at once (both sides). Call on the executor.
  void Close();

  boost::asio::any_io_executor executor() { return tls_.get_executor(); }

 private:
  void Handshaken();
  // A cleartext HTTP request on the TLS port: a 400 saying so, in cleartext.
  void AnswerPlainHttp();
  void ReadTls();
  void ReadPlain();
  // The plaintext side ended: close_notify (bounded in time), then close.
  void EndTls();

  boost::asio::ssl::stream<Socket> tls_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  const std::chrono::milliseconds write_timeout_;
  boost::asio::local::stream_protocol::socket plain_;
  boost::asio::steady_timer timer_;        // the handshake; then close_notify
  boost::asio::steady_timer write_timer_;  // a write to the TLS side
  std::function<void(absl::StatusOr<int>)> ready_;
  std::function<void()> closed_;
  std::array<char, 16384> from_tls_;
  std::array<char, 16384> from_plain_;
  bool handshaken_ = false;
  bool tls_reading_ = false;
  bool tls_ended_ = false;  // the peer's side ended (EOF or close_notify)
  bool ending_ = false;     // close_notify wanted
  bool done_ = false;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_TLS_CONNECTION_H_
