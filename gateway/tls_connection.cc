#include "gateway/tls_connection.h"

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
}  // namespace

TlsConnection::TlsConnection(Socket socket, std::shared_ptr<net::ssl::context> ctx)
    : tls_(std::move(socket), *ctx),
      ctx_(std::move(ctx)),
      plain_(tls_.get_executor()),
      timer_(tls_.get_executor()) {}

void TlsConnection::Start(Role role, std::chrono::milliseconds timeout,
                          std::function<void(absl::StatusOr<int>)> ready, std::function<void()> closed) {
  ready_ = std::move(ready);
  closed_ = std::move(closed);
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec && !self->handshaken_) self->Close();
  });
  tls_.async_handshake(role, [self = shared_from_this()](error_code ec) {
    self->timer_.cancel();
    if (ec || self->done_) {
      auto ready = std::move(self->ready_);
      self->Close();
      if (ready) {
        ready(absl::UnavailableError(absl::StrCat(
            "TLS handshake: ", ec ? ec.message() : "timed out")));
      }
      return;
    }
    self->Handshaken();
  });
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
    if (ready) ready(absl::ResourceExhaustedError(absl::StrCat("socketpair: ", ec.message())));
    return;
  }
  ReadTls();
  ReadPlain();
  if (ready) ready(fds[1]);
}

void TlsConnection::ReadTls() {
  tls_reading_ = true;
  tls_.async_read_some(net::buffer(from_tls_), [self = shared_from_this()](error_code ec, size_t n) {
    self->tls_reading_ = false;
    if (self->done_) return;
    if (self->ending_) return self->EndTls();  // the read was cancelled for close_notify
    if (ec) {
      // The peer is done sending (close_notify, EOF or a reset): so is the
      // plaintext side's reader.
      self->tls_ended_ = true;
      error_code ignored;
      self->plain_.shutdown(net::socket_base::shutdown_send, ignored);
      return;
    }
    net::async_write(self->plain_, net::buffer(self->from_tls_.data(), n),
                     [self](error_code ec, size_t) {
                       if (self->done_) return;
                       if (ec) return self->Close();
                       self->ReadTls();
                     });
  });
}

void TlsConnection::ReadPlain() {
  plain_.async_read_some(net::buffer(from_plain_), [self = shared_from_this()](error_code ec, size_t n) {
    if (self->done_) return;
    if (ec) return self->EndTls();
    net::async_write(self->tls_, net::buffer(self->from_plain_.data(), n), [self](error_code ec, size_t) {
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
  // and go on from its handler.
  if (tls_reading_) {
    error_code ignored;
    tls_.next_layer().cancel(ignored);
    return;
  }
  tls_.async_shutdown([self = shared_from_this()](error_code) { self->Close(); });
}

void TlsConnection::Close() {
  if (done_) return;
  done_ = true;
  error_code ignored;
  timer_.cancel();
  tls_.next_layer().close(ignored);
  plain_.close(ignored);
  if (auto closed = std::move(closed_)) closed();
}

}  // namespace concordance::gateway
