#include "tests/lib/clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace concordance::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// ---------------------------------------------------------------------------

struct HttpClient::Impl {
  std::mutex call_mu;  // one request at a time: the client may be shared by threads
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  std::shared_ptr<net::ssl::context> tls;  // null: cleartext
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;  // with tls: over the connection
  beast::flat_buffer buffer;

  // Calls `f` with the stream requests go on.
  template <typename F>
  void OnStream(F&& f) {
    if (secure) {
      f(*secure);
    } else {
      f(*stream);
    }
  }
  void Reset() {
    secure.reset();
    stream.reset();
  }
  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *stream; }

  // Runs the io_context until `done` or the deadline; on timeout closes the
  // connection (cancelling the operations) and returns false.
  bool Run(bool& done, std::chrono::milliseconds timeout) {
    ioc.restart();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      ioc.run_one_until(deadline);
    }
    if (!done) {
      if (stream || secure) lowest().close();
      ioc.restart();
      ioc.run();
      Reset();
      return false;
    }
    return true;
  }

  bool Connect(const std::string& host, int port, std::chrono::milliseconds timeout,
               std::string* error) {
    Reset();
    if (tls) {
      secure.emplace(ioc, *tls);
      SSL_set_tlsext_host_name(secure->native_handle(), host.c_str());
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(secure->native_handle()), host.c_str());
    } else {
      stream.emplace(ioc);
    }
    buffer.clear();
    bool done = false;
    beast::error_code ec;
    tcp::endpoint ep(net::ip::make_address(host), port);
    lowest().async_connect(ep, [&](beast::error_code e) {
      ec = e;
      if (ec || !secure) {
        done = true;
        return;
      }
      secure->async_handshake(net::ssl::stream_base::client, [&](beast::error_code e2) {
        ec = e2;
        done = true;
      });
    });
    if (!Run(done, timeout) || ec) {
      *error = ec ? ec.message() : "connect timed out";
      Reset();
      return false;
    }
    return true;
  }
};

HttpClient::HttpClient(std::string host, int port, std::optional<TlsClientFiles> tls)
    : impl_(std::make_unique<Impl>()), host_(std::move(host)), port_(port) {
  if (!tls) return;
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
  ctx->load_verify_file(tls->ca_file);
  ctx->set_verify_mode(net::ssl::verify_peer);
  if (!tls->cert_file.empty()) {
    ctx->use_certificate_chain_file(tls->cert_file);
    ctx->use_private_key_file(tls->key_file, net::ssl::context::pem);
  }
  impl_->tls = std::move(ctx);
}
HttpClient::~HttpClient() = default;

HttpResult HttpClient::Request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers,
                               std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> call(impl_->call_mu);
  HttpResult out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = !impl_->stream.has_value() && !impl_->secure.has_value();
    if (fresh && !impl_->Connect(host_, port_, timeout, &out.error)) return out;
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    if (req.method() == http::verb::unknown) req.method_string(method);
    req.set(http::field::host, host_ + ":" + std::to_string(port_));
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    if (body.empty() && (method == "GET" || method == "DELETE")) req.content_length(boost::none);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 << 20);
    bool done = false;
    beast::error_code ec;
    out.sent = true;
    impl_->OnStream([&](auto& stream) {
      http::async_write(stream, req, [&](beast::error_code e, size_t) {
        if (e) {
          ec = e;
          done = true;
          return;
        }
        http::async_read(stream, impl_->buffer, parser, [&](beast::error_code e2, size_t) {
          ec = e2;
          done = true;
        });
      });
    });
    if (!impl_->Run(done, timeout)) {
      out.error = "request timed out";
      return out;
    }
    if (ec) {
      impl_->Reset();
      // A kept-alive connection the server closed: retry once on a new one.
      if (!fresh && attempt == 0 && resend_on_closed_) continue;
      out.error = ec.message();
      return out;
    }
    auto res = parser.release();
    out.status = res.result_int();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(tolower(c));
      out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) impl_->Reset();
    return out;
  }
  return out;
}

std::string HttpClient::Raw(const std::string& bytes, std::chrono::milliseconds timeout) {
  Impl raw;
  std::string error;
  if (!raw.Connect(host_, port_, timeout, &error)) return "";
  std::string received;
  bool done = false;
  auto buf = std::make_shared<std::array<char, 4096>>();
  std::function<void(beast::error_code, size_t)> on_read = [&](beast::error_code e, size_t n) {
    received.append(buf->data(), n);
    if (e) {
      done = true;
      return;
    }
    raw.stream->async_read_some(net::buffer(*buf), on_read);
  };
  net::async_write(*raw.stream, net::buffer(bytes), [&](beast::error_code e, size_t) {
    if (e) {
      done = true;
      return;
    }
    raw.stream->async_read_some(net::buffer(*buf), on_read);
  });
  raw.Run(done, timeout);
  return received;
}

// ---------------------------------------------------------------------------

int TcpConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string ReadHead(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// ---------------------------------------------------------------------------

struct WsClient::Impl {
  net::io_context ioc;
  std::optional<websocket::stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> inbox;
  bool closed = false;
  std::chrono::milliseconds send_timeout{10000};
  int close_code = 0;
  std::string close_reason;

  void ReadLoop() {
    ws->async_read(buffer, [this](beast::error_code ec, size_t) {
      std::lock_guard<std::mutex> l(mu);
      if (ec) {
        closed = true;
        close_code = ws->reason().code;
        close_reason = std::string(ws->reason().reason.c_str());
        cv.notify_all();
        return;
      }
      inbox.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      cv.notify_all();
      ReadLoop();
    });
  }

  bool Write(const std::string& data, bool text) {
    auto msg = std::make_shared<std::string>(data);
    auto p = std::make_shared<std::promise<bool>>();
    std::future<bool> f = p->get_future();
    net::post(ioc, [this, msg, p, text] {
      ws->text(text);
      ws->async_write(net::buffer(*msg), [msg, p](beast::error_code ec, size_t) { p->set_value(!ec); });
    });
    if (f.wait_for(send_timeout) != std::future_status::ready) return false;
    return f.get();
  }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}

WsClient::~WsClient() { Close(); }

bool WsClient::Connect(const std::string& host, int port, const std::string& target,
                       const std::map<std::string, std::string>& headers, std::string* error) {
  beast::error_code ec;
  impl_->ws.emplace(impl_->ioc);
  auto& lowest = beast::get_lowest_layer(*impl_->ws);
  lowest.expires_after(std::chrono::seconds(10));
  lowest.connect(tcp::endpoint(net::ip::make_address(host), port), ec);
  if (ec) {
    if (error) *error = ec.message();
    return false;
  }
  impl_->ws->set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  impl_->ws->read_message_max(64 << 20);
  // The async handshake fills `res` even when the upgrade is declined (the
  // synchronous one does not in Boost 1.74), so a refusal's status shows.
  websocket::response_type res;
  bool done = false;
  impl_->ws->async_handshake(res, host + ":" + std::to_string(port), target,
                             [&](beast::error_code e) {
                               ec = e;
                               done = true;
                             });
  impl_->ioc.run_for(std::chrono::seconds(10));
  impl_->ioc.restart();
  if (!done || ec) {
    if (error) *error = done ? std::to_string(res.result_int()) + " " + res.body() : "handshake timed out";
    return false;
  }
  lowest.expires_never();
  impl_->ReadLoop();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
  return true;
}

void WsClient::set_send_timeout(std::chrono::milliseconds t) { impl_->send_timeout = t; }
bool WsClient::SendText(const std::string& text) { return impl_->Write(text, true); }
bool WsClient::SendBinary(const std::string& bytes) { return impl_->Write(bytes, false); }

std::optional<std::string> WsClient::Receive(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(impl_->mu);
  impl_->cv.wait_for(l, timeout, [this] { return !impl_->inbox.empty() || impl_->closed; });
  if (impl_->inbox.empty()) return std::nullopt;
  std::string m = std::move(impl_->inbox.front());
  impl_->inbox.pop_front();
  return m;
}

bool WsClient::closed() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->closed;
}

int WsClient::close_code() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->close_code;
}

std::string WsClient::close_reason() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->close_reason;
}

void WsClient::Abort() {
  if (!impl_->thread.joinable()) return;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    beast::get_lowest_layer(*impl_->ws).socket().close(ec);
  });
  impl_->ioc.stop();
  impl_->thread.join();
}

void WsClient::Close() {
  if (!impl_->thread.joinable()) return;
  auto p = std::make_shared<std::promise<void>>();
  net::post(impl_->ioc, [this, p] {
    bool already;
    {
      std::lock_guard<std::mutex> l(impl_->mu);
      already = impl_->closed;
    }
    if (already) return p->set_value();
    impl_->ws->async_close(websocket::close_code::normal, [p](beast::error_code) { p->set_value(); });
  });
  p->get_future().wait_for(std::chrono::seconds(3));
  beast::error_code ec;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    beast::get_lowest_layer(*impl_->ws).socket().close(ec);
  });
  impl_->ioc.stop();
  impl_->thread.join();
}

}  // namespace concordance::testing
