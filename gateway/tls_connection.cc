#include "gateway/tls_connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace concordance::gateway {

namespace net = boost::asio;
using error_code = boost::system::error_code;

namespace {
// How long close_notify may take before the socket is just closed.
constexpr std::chrono::milliseconds kShutdownTimeout{500};

// OpenSSL saw an HTTP request where a ClientHello belongs.
bool IsPlainHttp(const error_code& ec) {
  return ec.category() == net::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
             SSL_R_HTTP_REQUEST;
}

// What a cleartext HTTP client gets on the TLS port: a clear error, in
// cleartext, instead of a closed connection.
constexpr char kPlainHttpBody[] =
    "{\"error\":{\"code\":\"invalid_argument\",\"message\":"
    "\"this port speaks TLS only: use https:// (wss:// for /stream, TLS "
    "credentials for gRPC)\"}}";

std::string PlainHttpAnswer() {
  return absl::StrCat(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n",
      "Connection: close\r\nContent-Length: ", sizeof(kPlainHttpBody) - 1,
      "\r\n\r\n", kPlainHttpBody);
}
}  // namespace

TlsConnection::TlsConnection(Socket socket,
                             std::shared_ptr<net::ssl::context> ctx,
                             std::chrono::milliseconds write_timeout)
    : tls_(std::move(socket), *ctx),
      ctx_(std::move(ctx)),
      write_timeout_(write_timeout),
      plain_(tls_.get_executor()),
      timer_(tls_.get_executor()),
      write_timer_(tls_.get_executor()) {}

void TlsConnection::Start(Role role, std::chrono::milliseconds timeout,
                          std::function<void(absl::StatusOr<int>)> ready,
                          std::function<void()> closed) {
  if (done_) {  // closed before it started
    closed();
    ready(absl::CancelledError("TLS connection closed before its handshake"));
    return;
  }
  ready_ = std::move(ready);
  closed_ = std::move(closed);
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec && !self->handshaken_) self->Close();
  });
  tls_.async_handshake(role, [self = shared_from_this(), role](error_code ec) {
    self->timer_.cancel();
    if (ec && !self->done_ && role == net::ssl::stream_base::server &&
        IsPlainHttp(ec)) {
      self->AnswerPlainHttp();
    }
    if (ec || self->done_) {
      auto ready = std::move(self->ready_);
      self->Close();
      if (ready) {
        ready(absl::UnavailableError(
            absl::StrCat("TLS handshake: ", ec ? ec.message() : "timed out")));
      }
      return;
    }
    self->Handshaken();
  });
}

void TlsConnection::AnswerPlainHttp() {
  Socket& socket = tls_.next_layer();
  error_code ignored;
  net::write(socket, net::buffer(PlainHttpAnswer()), ignored);
  socket.shutdown(net::socket_base::shutdown_send, ignored);
  // What the client sent besides is read and dropped, so that closing does
  // not reset the connection before the answer is read.
  char sink[4096];
  for (int i = 0; i < 16 && recv(socket.native_handle(), sink, sizeof(sink),
                                 MSG_DONTWAIT) > 0;
       ++i) {
  }
}

void TlsConnection::Handshaken() {
  handshaken_ = true;
  int fds[2];
  error_code ec;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    ec = error_code(errno, boost::system::system_category());
  } else {
    plain_.assign(net::local::stream_protocol(), fds[0], ec);
    if (ec) {
      close(fds[0]);
      close(fds[1]);
    }
  }
  auto ready = std::move(ready_);
  if (ec) {
    Close();
    if (ready)
      ready(absl::ResourceExhaustedError(
          absl::StrCat("socketpair: ", ec.message())));
    return;
  }
  ReadTls();
  ReadPlain();
  if (ready) ready(fds[1]);
}

// tls_reading_ stays set until what was read is passed on, so that
// close_notify never starts while this direction may read again.
void TlsConnection::ReadTls() {
  tls_reading_ = true;
  tls_.async_read_some(net::buffer(from_tls_), [self = shared_from_this()](
                                                   error_code ec, size_t n) {
    if (self->done_) return;
    if (self->ending_) {  // the read was cancelled for close_notify
      self->tls_reading_ = false;
      return self->EndTls();
    }
    if (ec) {
      // The peer is done sending (close_notify, EOF or a reset): so is the
      // plaintext side's reader.
      self->tls_reading_ = false;
      self->tls_ended_ = true;
      error_code ignored;
      self->plain_.shutdown(net::socket_base::shutdown_send, ignored);
      return;
    }
    net::async_write(self->plain_, net::buffer(self->from_tls_.data(), n),
                     [self](error_code ec, size_t) {
                       self->tls_reading_ = false;
                       if (self->done_) return;
                       if (ec) return self->Close();
                       if (self->ending_) return self->EndTls();
                       self->ReadTls();
                     });
  });
}

void TlsConnection::ReadPlain() {
  plain_.async_read_some(
      net::buffer(from_plain_),
      [self = shared_from_this()](error_code ec, size_t n) {
        if (self->done_) return;
        if (ec) return self->EndTls();
        // A peer that takes this long to accept 16 KiB has stopped reading; the
        // plaintext side may have given up on it long ago.
        self->write_timer_.expires_after(self->write_timeout_);
        self->write_timer_.async_wait([self](error_code ec) {
          if (!ec) self->Close();
        });
        net::async_write(self->tls_, net::buffer(self->from_plain_.data(), n),
                         [self](error_code ec, size_t) {
                           self->write_timer_.cancel();
                           if (self->done_) return;
                           if (ec) return self->Close();
                           self->ReadPlain();
                         });
      });
}

void TlsConnection::EndTls() {
  if (done_) return;
  if (tls_ended_) return Close();  // the peer has gone already
  if (!ending_) {
    ending_ = true;
    timer_.expires_after(kShutdownTimeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->Close();
    });
  }
  // A TLS read in flight would race close_notify's own read: cancel it
  // (or let its write to the plaintext side finish) and go on from its
  // handler.
  if (tls_reading_) {
    error_code ignored;
    tls_.next_layer().cancel(ignored);
    return;
  }
  tls_.async_shutdown(
      [self = shared_from_this()](error_code) { self->Close(); });
}

void TlsConnection::Close() {
  if (done_) return;
  done_ = true;
  error_code ignored;
  timer_.cancel();
  write_timer_.cancel();
  tls_.next_layer().close(ignored);
  plain_.close(ignored);
  if (auto closed = std::move(closed_)) closed();
}

}  // namespace concordance::gateway
