#include "gateway/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gateway/url.h"
#include "glog/logging.h"

namespace concordance::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;

// Anything the server must be able to shut down gracefully.
class Session {
 public:
  virtual ~Session() = default;
  virtual void Shutdown() = 0;
};

}  // namespace

class Server::Impl {
 public:
  Impl(Options options, Backend* backend, const Authenticator* auth, metrics::Registry* metrics)
      : options_(std::move(options)),
        backend_(backend),
        auth_(auth),
        metrics_(metrics),
        rest_(backend, auth, RestOptions(options_), metrics),
        acceptor_(ioc_),
        work_(net::make_work_guard(ioc_)) {
    http_connections_ = metrics->GetGauge("concordance_http_connections",
                                          "Open HTTP connections (not upgraded).");
    stream_connections_ = metrics->GetGauge("concordance_websocket_connections",
                                            "Open WebSocket connections.", {{"path", "/stream"}});
    raft_connections_ = metrics->GetGauge("concordance_websocket_connections",
                                          "Open WebSocket connections.", {{"path", "/raft"}});
  }

  static RestHandler::Options RestOptions(const Options& o) {
    RestHandler::Options r = o.rest;
    r.limits = o.limits;
    return r;
  }

  absl::Status Start();
  void Stop(int grace_ms);
  uint16_t port() const { return bound_port_; }

  void Register(uint64_t id, std::weak_ptr<Session> s) {
    absl::MutexLock l(&mu_);
    sessions_[id] = std::move(s);
  }
  void Unregister(uint64_t id) {
    absl::MutexLock l(&mu_);
    sessions_.erase(id);
  }
  bool stopping() const { return stopping_.load(); }
  uint64_t NextId() { return next_id_.fetch_add(1); }

  Options options_;
  Backend* backend_;
  const Authenticator* auth_;
  metrics::Registry* metrics_;
  RestHandler rest_;
  metrics::Gauge* http_connections_;
  metrics::Gauge* stream_connections_;
  metrics::Gauge* raft_connections_;
  std::atomic<size_t> connections_{0};

 private:
  void Accept();

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  uint16_t bound_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_id_{1};
  absl::Mutex mu_;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
};

namespace {

// ---------------------------------------------------------------------------
// /stream: JSON-RPC over WebSocket.

class StreamSession : public Session, public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(tcp::socket socket, Server::Impl* server, Access access, std::string actor)
      : ws_(std::move(socket)), server_(server), access_(access), actor_(std::move(actor)),
        id_(server->NextId()) {}

  void Start(http::request<http::string_body> req) {
    server_->Register(id_, weak_from_this());
    server_->stream_connections_->Add(1);
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = std::chrono::milliseconds(server_->options_.ws_idle_timeout_ms);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "concordance"); }));
    ws_.read_message_max(server_->options_.limits.max_ws_message_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&StreamSession::OnAccept, shared_from_this()));
  }

  void Shutdown() override {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->Close(websocket::close_code::going_away, "server shutting down");
    });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return Done();
    std::weak_ptr<StreamSession> weak = weak_from_this();
    RpcConnection::Hooks hooks;
    hooks.send = [weak](std::string text) {
      if (auto self = weak.lock()) {
        net::post(self->ws_.get_executor(),
                  [self, text = std::move(text)]() mutable { self->Enqueue(std::move(text)); });
      }
    };
    hooks.resume = [weak] {
      if (auto self = weak.lock()) {
        net::post(self->ws_.get_executor(), [self] { self->MaybeRead(); });
      }
    };
    conn_ = std::make_shared<RpcConnection>(server_->backend_, access_, actor_,
                                            server_->options_.rpc, std::move(hooks),
                                            server_->metrics_);
    MaybeRead();
  }

  // Reads the next message unless the client must wait: too many requests
  // in flight, or too much unsent output (the client is not reading).
  void MaybeRead() {
    if (reading_ || closing_ || done_) return;
    if (!conn_->CanRead() || queue_.size() > server_->options_.ws_send_queue_messages / 2) {
      return;  // resumed by the resume hook or by OnWrite
    }
    reading_ = true;
    ws_.async_read(buffer_, beast::bind_front_handler(&StreamSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    reading_ = false;
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        LOG(INFO) << "/stream: message over " << server_->options_.limits.max_ws_message_bytes
                  << " bytes; closing with 1009";
      }
      return Done();
    }
    if (ws_.got_text()) {
      std::string text = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      conn_->OnText(text);
    } else {
      buffer_.consume(buffer_.size());
      conn_->OnBinary();
    }
    MaybeRead();
  }

  void Enqueue(std::string text) {
    if (closing_ || done_) return;
    const auto& o = server_->options_;
    if (queue_.size() >= o.ws_send_queue_messages || queued_bytes_ + text.size() > o.ws_send_queue_bytes) {
      LOG(WARNING) << "/stream: closing a connection whose client does not read (" << queue_.size()
                   << " messages, " << queued_bytes_ << " bytes queued)";
      Close(websocket::close_code::policy_error,
            "send queue overflow: the client is not reading fast enough");
      return;
    }
    queued_bytes_ += text.size();
    queue_.push_back(std::move(text));
    if (!writing_) Write();
  }

  void Write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()),
                    beast::bind_front_handler(&StreamSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    writing_ = false;
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (ec) return Done();
    if (!queue_.empty() && !closing_) {
      Write();
    } else if (closing_ && close_pending_) {
      StartClose();
    }
    MaybeRead();
  }

  void Close(websocket::close_code code, const std::string& reason) {
    if (closing_ || done_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(code, reason);
    if (writing_) {
      close_pending_ = true;  // after the write in progress
    } else {
      StartClose();
    }
  }

  void StartClose() {
    close_pending_ = false;
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) { self->Done(); });
  }

  void Done() {
    if (done_) return;
    done_ = true;
    if (conn_) conn_->Closed();
    server_->stream_connections_->Add(-1);
    server_->connections_.fetch_sub(1);
    server_->Unregister(id_);
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Server::Impl* server_;
  Access access_;
  std::string actor_;
  uint64_t id_;
  std::shared_ptr<RpcConnection> conn_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool reading_ = false, writing_ = false, closing_ = false, close_pending_ = false, done_ = false;
  websocket::close_reason close_reason_;
};

// ---------------------------------------------------------------------------
// /raft: peer messages. Text frames carry JSON Raft messages; binary frames
// carry snapshot bytes.

class RaftSession : public Session, public std::enable_shared_from_this<RaftSession> {
 public:
  RaftSession(tcp::socket socket, Server::Impl* server, std::string node_id, std::string address)
      : ws_(std::move(socket)), server_(server), node_id_(std::move(node_id)),
        address_(std::move(address)), id_(server->NextId()) {}

  void Start(http::request<http::string_body> req) {
    server_->Register(id_, std::weak_ptr<Session>(shared_from_this()));
    server_->raft_connections_->Add(1);
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = std::chrono::milliseconds(server_->options_.ws_idle_timeout_ms);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(64 << 20);  // snapshot chunks are smaller
    ws_.async_accept(req, beast::bind_front_handler(&RaftSession::OnAccept, shared_from_this()));
  }

  void Shutdown() override {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->closing_ || self->done_) return;
      self->closing_ = true;
      self->ws_.async_close(websocket::close_code::going_away,
                            [self](beast::error_code) { self->Done(); });
    });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return Done();
    accepted_ = true;
    if (!server_->backend_->PeerConnected(id_, node_id_, address_)) {
      closing_ = true;
      ws_.async_close(websocket::close_reason(websocket::close_code::policy_error, "unknown peer"),
                      [self = shared_from_this()](beast::error_code) { self->Done(); });
      return;
    }
    Read();
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Done();
      std::string data = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (self->ws_.got_text()) {
        self->server_->backend_->PeerText(self->id_, self->node_id_, std::move(data));
      } else {
        self->server_->backend_->PeerBinary(self->id_, self->node_id_, std::move(data));
      }
      self->Read();
    });
  }

  void Done() {
    if (done_) return;
    done_ = true;
    if (accepted_) server_->backend_->PeerDisconnected(id_, node_id_);
    server_->raft_connections_->Add(-1);
    server_->connections_.fetch_sub(1);
    server_->Unregister(id_);
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Server::Impl* server_;
  std::string node_id_;
  std::string address_;
  uint64_t id_;
  bool closing_ = false, done_ = false, accepted_ = false;
};

// ---------------------------------------------------------------------------
// HTTP/1.1 with keep-alive; hands WebSocket upgrades to the sessions above.

class HttpSession : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Server::Impl* server)
      : stream_(std::move(socket)), server_(server), id_(server->NextId()) {}

  void Start() {
    server_->Register(id_, weak_from_this());
    server_->http_connections_->Add(1);
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  void Shutdown() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->busy_) {
        self->close_after_ = true;  // answer the request in flight, then close
      } else {
        self->CloseSocket();
      }
    });
  }

 private:
  void Read() {
    if (server_->stopping()) return CloseSocket();
    parser_.emplace();
    parser_->body_limit(server_->options_.limits.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(std::chrono::milliseconds(
        first_request_ ? server_->options_.header_timeout_ms : server_->options_.idle_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    first_request_ = false;
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == beast::error::timeout || ec == net::error::operation_aborted) {
      return CloseSocket();
    }
    if (ec == http::error::body_limit) {
      return Reject(http::status::payload_too_large,
                    absl::ResourceExhaustedError(absl::StrCat(
                        "request body over ", server_->options_.limits.max_body_bytes, " bytes")));
    }
    if (ec == http::error::header_limit) {
      return Reject(http::status::request_header_fields_too_large,
                    absl::ResourceExhaustedError("request head too large"));
    }
    if (ec) {
      return Reject(http::status::bad_request,
                    absl::InvalidArgumentError(absl::StrCat("malformed HTTP request: ", ec.message())));
    }
    http::request<http::string_body> req = parser_->release();
    absl::string_view target(req.target().data(), req.target().size());
    absl::string_view path = target.substr(0, target.find('?'));
    if (path == "/stream" || path == "/raft") return Upgrade(std::move(req), path, target);
    Serve(std::move(req));
  }

  void Upgrade(http::request<http::string_body> req, absl::string_view path,
               absl::string_view target) {
    if (!websocket::is_upgrade(req)) {
      return Reject(http::status::upgrade_required,
                    absl::InvalidArgumentError(absl::StrCat(std::string(path), " speaks WebSocket only")));
    }
    if (server_->stopping()) {
      return Reject(http::status::service_unavailable, absl::UnavailableError("server shutting down"));
    }
    std::string authorization(req[http::field::authorization]);
    if (path == "/raft") {
      if (!server_->auth_->IsPeer(authorization)) {
        return Reject(http::status::unauthorized, absl::UnauthenticatedError("/raft needs the peer key"));
      }
      size_t q = target.find('?');
      absl::StatusOr<std::map<std::string, std::string>> query =
          ParseQuery(q == absl::string_view::npos ? "" : target.substr(q + 1));
      if (!query.ok()) return Reject(http::status::bad_request, query.status());
      auto it = query->find("nodeId");
      if (it == query->end() || it->second.empty()) {
        return Reject(http::status::bad_request, absl::InvalidArgumentError("/raft needs ?nodeId="));
      }
      auto address = query->find("address");
      Handoff();
      std::make_shared<RaftSession>(stream_.release_socket(), server_, it->second,
                                    address == query->end() ? "" : address->second)
          ->Start(std::move(req));
      return;
    }
    Access access = server_->auth_->Authenticate(authorization);
    if (access == Access::kNone) {
      return Reject(http::status::unauthorized,
                    absl::UnauthenticatedError("missing or invalid API key: send Authorization: Bearer <key>"));
    }
    auto header = req.find("X-Concordance-Actor");
    absl::StatusOr<std::string> actor = ResolveActor(
        header == req.end() ? std::nullopt : std::optional<std::string>(header->value()), access);
    if (!actor.ok()) return Reject(http::status::bad_request, actor.status());
    Handoff();
    std::make_shared<StreamSession>(stream_.release_socket(), server_, access, std::move(*actor))
        ->Start(std::move(req));
  }

  // The socket now belongs to a WebSocket session.
  void Handoff() {
    handed_off_ = true;
    stream_.expires_never();
    server_->http_connections_->Add(-1);
    server_->Unregister(id_);
  }

  void Serve(http::request<http::string_body> req) {
    busy_ = true;
    HttpRequest hr;
    hr.method = std::string(req.method_string());
    hr.target = std::string(req.target());
    hr.authorization = std::string(req[http::field::authorization]);
    auto actor = req.find("X-Concordance-Actor");
    if (actor != req.end()) hr.actor = std::string(actor->value());
    hr.body = std::move(req.body());
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    bool head = req.method() == http::verb::head;
    stream_.expires_never();  // the backend bounds its own waits
    server_->rest_.Handle(std::move(hr), [self = shared_from_this(), keep_alive, version,
                                          head](HttpResponse r) {
      net::post(self->stream_.get_executor(), [self, r = std::move(r), keep_alive, version, head]() mutable {
        self->Write(std::move(r), keep_alive, version, head);
      });
    });
  }

  void Write(HttpResponse r, bool keep_alive, unsigned version, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "concordance");
    res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->set(name, value);
    keep_alive = keep_alive && !close_after_ && !server_->stopping();
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    if (head) res->body().clear();
    stream_.expires_after(std::chrono::milliseconds(server_->options_.header_timeout_ms));
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](
                                         beast::error_code ec, size_t) {
      self->busy_ = false;
      if (ec || !keep_alive) return self->CloseSocket();
      self->Read();
    });
  }

  // Answers a request that cannot be served, then closes the connection
  // (its remaining bytes cannot be trusted). The body is the REST error of
  // `why`; `status` may be more specific than the table's (426, 431).
  void Reject(http::status status, const absl::Status& why) {
    busy_ = true;
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "concordance");
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    res->body() = RestHandler::Error(why).body;
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(5));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      self->busy_ = false;
      if (ec) return self->CloseSocket();
      self->LingerThenClose();
    });
  }

  // The client may still be sending the request we refused (an oversized
  // body). Closing with unread data makes the kernel answer with a reset,
  // which can destroy our response before the client reads it; so, like
  // nginx's lingering close, stop sending and read and discard for a while
  // (bounded in bytes and time) before closing.
  void LingerThenClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    linger_budget_ = 2 * server_->options_.limits.max_body_bytes + (64 << 10);
    stream_.expires_after(std::chrono::seconds(2));
    Discard();
  }

  void Discard() {
    if (closed_) return;
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec || n >= self->linger_budget_) return self->CloseSocket();
                              self->linger_budget_ -= n;
                              self->Discard();
                            });
  }

  void CloseSocket() {
    if (closed_ || handed_off_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
    server_->http_connections_->Add(-1);
    server_->connections_.fetch_sub(1);
    server_->Unregister(id_);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Server::Impl* server_;
  uint64_t id_;
  bool busy_ = false, close_after_ = false, closed_ = false, handed_off_ = false;
  bool first_request_ = true;
  size_t linger_budget_ = 0;
  std::array<char, 16384> discard_;
};

}  // namespace

absl::Status Server::Impl::Start() {
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options_.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen host ", options_.host));
  tcp::endpoint ep(address, options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.host, ":", options_.port, ": ", ec.message()));
  }
  bound_port_ = acceptor_.local_endpoint().port();
  Accept();
  for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "io");
      ioc_.run();
    });
  }
  return absl::OkStatus();
}

void Server::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || stopping_) return;
      LOG(WARNING) << "accept: " << ec.message();
    } else if (connections_.load() >= options_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections_.fetch_add(1);
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<HttpSession>(std::move(socket), this)->Start();
    }
    if (!stopping_) Accept();
  });
}

void Server::Impl::Stop(int grace_ms) {
  if (stopping_.exchange(true)) return;
  net::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    absl::MutexLock l(&mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(s);
    }
  }
  for (auto& s : live) s->Shutdown();
  live.clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (connections_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (connections_.load() > 0) {
    LOG(WARNING) << connections_.load() << " connections still open after " << grace_ms
                 << " ms; stopping anyway";
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

Server::Server(Options options, Backend* backend, const Authenticator* auth,
               metrics::Registry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), backend, auth, metrics)) {}

Server::~Server() { Stop(0); }

absl::Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Stop(int grace_ms) { impl_->Stop(grace_ms); }

}  // namespace concordance::gateway
