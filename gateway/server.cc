#include "gateway/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gateway/hangup_watcher.h"
#include "gateway/raft_codec.h"
#include "gateway/tls_connection.h"
#include "gateway/url.h"
#include "glog/logging.h"
#include "util/status_payloads.h"

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
  // A /raft link (closed last, so requests in flight can still commit).
  virtual bool peer_link() const { return false; }
};

}  // namespace

class Server::Impl {
 public:
  Impl(Options options, Api api, const Authenticator* auth,
       PeerTransport* peers, GrpcServer* grpc, metrics::Registry* metrics)
      : options_(std::move(options)),
        api_(api),
        auth_(auth),
        peers_(peers),
        grpc_(grpc),
        metrics_(metrics),
        rest_(api, auth, RestOptions(options_), metrics),
        acceptor_(ioc_),
        accept_retry_(ioc_),
        work_(net::make_work_guard(ioc_)) {
    http_connections_ =
        metrics->GetGauge("concordance_http_connections",
                          "Open HTTP connections (not upgraded).");
    stream_connections_ =
        metrics->GetGauge("concordance_websocket_connections",
                          "Open WebSocket connections.", {{"path", "/stream"}});
    raft_connections_ =
        metrics->GetGauge("concordance_websocket_connections",
                          "Open WebSocket connections.", {{"path", "/raft"}});
    grpc_connections_ =
        metrics->GetCounter("concordance_grpc_connections_total",
                            "Connections that opened with the HTTP/2 preface "
                            "and were handed to the gRPC server.");
    grpc_open_ = metrics->GetGauge(
        "concordance_grpc_connections",
        "Open connections served by the gRPC server (they hold client slots).");
    refused_connections_ =
        metrics->GetCounter("concordance_connections_refused_total",
                            "Connections closed at once because every slot was "
                            "taken (--max-connections).");
    tls_handshake_failures_ =
        metrics->GetCounter("concordance_tls_handshake_failures_total",
                            "TLS connections closed before or in the handshake (a bad "
                            "or missing certificate, the wrong protocol, a timeout).");
    accept_errors_ =
        metrics->GetCounter("concordance_accept_errors_total",
                            "accept() failures (e.g. out of file descriptors); "
                            "the server backs off after each.");
    stage_send_ = metrics->GetHistogram(metrics::kWriteStageName, metrics::kWriteStageHelp,
                                        metrics::StageBuckets(), {{"stage", "send"}});
    stage_total_ = metrics->GetHistogram(metrics::kWriteStageName, metrics::kWriteStageHelp,
                                         metrics::StageBuckets(), {{"stage", "total"}});
  }

  void PostInOrder(std::function<void()> fn) { net::post(in_order_, std::move(fn)); }

  static RestHandler::Options RestOptions(const Options& o) {
    RestHandler::Options r;
    r.limits = o.limits;
    r.scheme = o.tls ? "https" : "http";
    return r;
  }

  absl::Status Start();
  void StopClients(int grace_ms);
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
  net::io_context& ioc() { return ioc_; }

  // Connection budgets. Clients (HTTP and /stream) have max_connections
  // slots; /raft peers have max_peer_connections of their own. A connection
  // accepted while every client slot is taken gets a probation slot: it may
  // only become a /raft session, so clients cannot starve peers.
  enum class Slot { kClient, kProbation, kPeer };
  bool TakePeerSlot(Slot from) {
    if (peer_connections_.fetch_add(1) >= options_.max_peer_connections) {
      peer_connections_.fetch_sub(1);
      return false;
    }
    ReleaseSlot(from);
    return true;
  }
  void ReleaseSlot(Slot slot) {
    switch (slot) {
      case Slot::kClient:
        client_connections_.fetch_sub(1);
        break;
      case Slot::kProbation:
        probation_connections_.fetch_sub(1);
        break;
      case Slot::kPeer:
        peer_connections_.fetch_sub(1);
        break;
    }
  }

  Options options_;
  Api api_;
  const Authenticator* auth_;
  PeerTransport* peers_;
  GrpcServer* grpc_;
  metrics::Counter* grpc_connections_;
  metrics::Gauge* grpc_open_;
  metrics::Histogram* stage_send_;   // writes: answered -> response written
  metrics::Histogram* stage_total_;  // writes: request read -> response written
  HangupWatcher hangups_;  // of the connections handed to gRPC
  metrics::Registry* metrics_;
  RestHandler rest_;
  metrics::Gauge* http_connections_;
  metrics::Gauge* stream_connections_;
  metrics::Gauge* raft_connections_;
  metrics::Counter* refused_connections_;
  metrics::Counter* accept_errors_;
  metrics::Counter* tls_handshake_failures_;
  std::atomic<size_t> connections_{0};  // every open connection
  std::atomic<size_t> bridges_{0};  // TLS bridges whose plaintext side is served
  std::atomic<size_t> client_connections_{0};
  std::atomic<size_t> probation_connections_{0};
  std::atomic<size_t> peer_connections_{0};

 private:
  void Accept();
  void OnAccepted(tcp::socket socket);
  // Accept failed (EMFILE, ENFILE, ENOBUFS...): wait before trying again,
  // so a full fd table does not make the loop spin and flood the log.
  void BackOffAccept(const beast::error_code& ec);
  // Shuts down the sessions that are (or are not) /raft links.
  void ShutdownSessions(bool peer_links);
  // Waits until at most `open()` connections remain or `deadline`; false
  // if some are still open.
  bool WaitFor(const std::function<size_t()>& open,
               std::chrono::steady_clock::time_point deadline);
  bool WaitUntil(const std::function<bool()>& done,
                 std::chrono::steady_clock::time_point deadline);

  net::io_context ioc_;
  net::strand<net::io_context::executor_type> in_order_{net::make_strand(ioc_)};
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  int accept_backoff_ms_ = 0;
  std::chrono::steady_clock::time_point accept_error_logged_{};
  uint64_t accept_errors_unlogged_ = 0;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  uint16_t bound_port_ = 0;
  std::atomic<bool> stopping_{false};  // no new connections; clients closing
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> next_id_{1};
  absl::Mutex mu_;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
};

namespace {

// ---------------------------------------------------------------------------
// /stream: JSON-RPC over WebSocket.

class StreamSession : public Session,
                      public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(tcp::socket socket, Server::Impl* server, Caller caller)
      : ws_(std::move(socket)),
        server_(server),
        caller_(std::move(caller)),
        id_(server->NextId()) {}

  void Start(http::request<http::string_body> req) {
    server_->Register(id_, weak_from_this());
    server_->stream_connections_->Add(1);
    websocket::stream_base::timeout t =
        websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout =
        std::chrono::milliseconds(server_->options_.ws_idle_timeout_ms);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(
        websocket::stream_base::decorator([](websocket::response_type& res) {
          res.set(http::field::server, "concordance");
        }));
    ws_.read_message_max(server_->options_.limits.max_ws_message_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&StreamSession::OnAccept,
                                                    shared_from_this()));
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
        self->outstanding_bytes_.fetch_add(text.size());
        self->outstanding_messages_.fetch_add(1);
        net::post(self->ws_.get_executor(),
                  [self, text = std::move(text)]() mutable {
                    self->Enqueue(std::move(text));
                  });
      }
    };
    hooks.has_room = [weak] {
      auto self = weak.lock();
      return self != nullptr && self->HasRoom();
    };
    hooks.on_room = [weak](std::function<void()> fn) {
      if (auto self = weak.lock()) self->OnRoom(std::move(fn));
    };
    hooks.resume = [weak] {
      if (auto self = weak.lock()) {
        net::post(self->ws_.get_executor(), [self] { self->MaybeRead(); });
      }
    };
    conn_ = std::make_shared<RpcConnection>(
        server_->api_, caller_, server_->options_.rpc, std::move(hooks),
        server_->metrics_);
    MaybeRead();
  }

  // Reads the next message unless the client must wait: too many requests
  // in flight, or too much unsent output (the client is not reading).
  void MaybeRead() {
    if (reading_ || closing_ || done_) return;
    if (!conn_->CanRead() ||
        queue_.size() > server_->options_.ws_send_queue_messages / 2) {
      // Resumed by the resume hook or by OnWrite. Nothing may be pending
      // meanwhile (all requests in flight, no write): hold ourselves.
      paused_self_ = shared_from_this();
      return;
    }
    paused_self_.reset();
    reading_ = true;
    ws_.async_read(buffer_, beast::bind_front_handler(&StreamSession::OnRead,
                                                      shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    reading_ = false;
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        LOG(INFO) << "/stream: message over "
                  << server_->options_.limits.max_ws_message_bytes
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

  // Below a quarter of the send-queue caps: replays may read another page.
  bool HasRoom() const {
    const auto& o = server_->options_;
    return outstanding_bytes_.load() <
               std::max<size_t>(1, o.ws_send_queue_bytes / 4) &&
           outstanding_messages_.load() <
               std::max<size_t>(1, o.ws_send_queue_messages / 4);
  }

  void OnRoom(std::function<void()> fn) {
    {
      absl::MutexLock l(&room_mu_);
      if (!room_closed_) room_waiters_.push_back(std::move(fn));
    }
    // Room may have come back before the waiter was registered.
    if (HasRoom()) WakeRoomWaiters();
  }

  void WakeRoomWaiters() {
    std::vector<std::function<void()>> waiters;
    {
      absl::MutexLock l(&room_mu_);
      waiters.swap(room_waiters_);
    }
    for (auto& fn : waiters) fn();
  }

  // A message handed to send() leaves the outstanding count here: written,
  // or dropped because the connection is going away.
  void Settled(size_t bytes) {
    outstanding_bytes_.fetch_sub(bytes);
    outstanding_messages_.fetch_sub(1);
  }

  void Enqueue(std::string text) {
    if (closing_ || done_) return Settled(text.size());
    const auto& o = server_->options_;
    if (queue_.size() >= o.ws_send_queue_messages ||
        queued_bytes_ + text.size() > o.ws_send_queue_bytes) {
      LOG(WARNING)
          << "/stream: closing a connection whose client does not read ("
          << queue_.size() << " messages, " << queued_bytes_
          << " bytes queued)";
      Settled(text.size());
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
    ws_.async_write(
        net::buffer(queue_.front()),
        beast::bind_front_handler(&StreamSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    writing_ = false;
    queued_bytes_ -= queue_.front().size();
    Settled(queue_.front().size());
    queue_.pop_front();
    if (HasRoom()) WakeRoomWaiters();
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
    ws_.async_close(close_reason_, [self = shared_from_this()](
                                       beast::error_code) { self->Done(); });
  }

  void Done() {
    if (done_) return;
    done_ = true;
    paused_self_.reset();
    {
      absl::MutexLock l(&room_mu_);
      room_closed_ = true;
      room_waiters_.clear();  // their subscriptions end with the connection
    }
    if (conn_) conn_->Closed();
    server_->stream_connections_->Add(-1);
    server_->ReleaseSlot(Server::Impl::Slot::kClient);
    server_->connections_.fetch_sub(1);
    server_->Unregister(id_);
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Server::Impl* server_;
  Caller caller_;
  uint64_t id_;
  std::shared_ptr<RpcConnection> conn_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  // Handed to send() and not yet written (any thread).
  std::atomic<size_t> outstanding_bytes_{0};
  std::atomic<size_t> outstanding_messages_{0};
  std::shared_ptr<StreamSession> paused_self_;  // while not reading
  absl::Mutex room_mu_;
  std::vector<std::function<void()>> room_waiters_ ABSL_GUARDED_BY(room_mu_);
  bool room_closed_ ABSL_GUARDED_BY(room_mu_) = false;
  bool reading_ = false, writing_ = false, closing_ = false,
       close_pending_ = false, done_ = false;
  websocket::close_reason close_reason_;
};

// ---------------------------------------------------------------------------
// /raft: peer messages. Text frames carry JSON Raft messages; binary frames
// carry snapshot bytes.

class RaftSession : public Session,
                    public std::enable_shared_from_this<RaftSession> {
 public:
  RaftSession(tcp::socket socket, Server::Impl* server, std::string node_id,
              std::string address, std::string version)
      : ws_(std::move(socket)),
        server_(server),
        node_id_(std::move(node_id)),
        address_(std::move(address)),
        version_(std::move(version)),
        id_(server->NextId()) {}

  void Start(http::request<http::string_body> req) {
    server_->Register(id_, std::weak_ptr<Session>(shared_from_this()));
    server_->raft_connections_->Add(1);
    websocket::stream_base::timeout t =
        websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout =
        std::chrono::milliseconds(server_->options_.ws_idle_timeout_ms);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(64 << 20);  // snapshot chunks are smaller
    ws_.async_accept(req, beast::bind_front_handler(&RaftSession::OnAccept,
                                                    shared_from_this()));
  }

  bool peer_link() const override { return true; }

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
    std::weak_ptr<RaftSession> weak = weak_from_this();
    auto resume = [weak] {
      if (auto self = weak.lock()) {
        net::post(self->ws_.get_executor(), [self] {
          if (!self->paused_) return;
          self->paused_ = false;
          self->paused_self_.reset();
          if (!self->done_ && !self->closing_) self->Read();
        });
      }
    };
    absl::Status s =
        server_->peers_->Connected(id_, node_id_, address_, version_, resume);
    if (!s.ok()) return Refuse(s);
    Read();
  }

  void Refuse(const absl::Status& s) {
    if (closing_ || done_) return;
    closing_ = true;
    // A close reason holds at most 123 bytes.
    std::string reason(s.message().substr(0, 120));
    websocket::close_reason why(
        s.GetPayload(kRemovedPayload).has_value()
            ? websocket::close_code(kPeerRemovedCloseCode)
            : websocket::close_code::policy_error,
        reason);
    ws_.async_close(
        why, [self = shared_from_this()](beast::error_code) { self->Done(); });
  }

  // Reads frames and hands them to the node until it says its inbox is
  // full; then waits for `resume` (so a peer cannot queue without bound).
  void Read() {
    ws_.async_read(
        buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Done();
          std::string data = beast::buffers_to_string(self->buffer_.data());
          self->buffer_.consume(self->buffer_.size());
          absl::StatusOr<bool> more =
              self->ws_.got_text()
                  ? self->server_->peers_->Text(self->id_, self->node_id_,
                                                std::move(data))
                  : self->server_->peers_->Binary(self->id_, self->node_id_,
                                                  std::move(data));
          if (!more.ok()) return self->Refuse(more.status());
          if (*more) {
            self->Read();
          } else {
            // No operation is pending while paused: hold ourselves until the
            // resume (or a shutdown) comes.
            self->paused_ = true;
            self->paused_self_ = self;
          }
        });
  }

  void Done() {
    if (done_) return;
    done_ = true;
    paused_self_.reset();
    if (accepted_) server_->peers_->Disconnected(id_, node_id_);
    server_->raft_connections_->Add(-1);
    server_->ReleaseSlot(Server::Impl::Slot::kPeer);
    server_->connections_.fetch_sub(1);
    server_->Unregister(id_);
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Server::Impl* server_;
  std::string node_id_;
  std::string address_;
  std::string version_;
  uint64_t id_;
  bool closing_ = false, done_ = false, accepted_ = false, paused_ = false;
  std::shared_ptr<RaftSession> paused_self_;
};

// ---------------------------------------------------------------------------
// A connection served by gRPC keeps its client slot while it lives: a
// duplicate of its socket goes to the HangupWatcher, which calls back when
// gRPC has shut the connection down (or the peer reset it).

class GrpcLink : public Session, public std::enable_shared_from_this<GrpcLink> {
 public:
  using Slot = Server::Impl::Slot;
  GrpcLink(Server::Impl* server, Slot slot)
      : server_(server), id_(server->NextId()), slot_(slot) {}

  // Takes `fd`, a duplicate of the connection's socket.
  void Start(int fd) {
    server_->Register(id_, weak_from_this());
    server_->grpc_open_->Add(1);
    // The callback holds the link; the watcher drops it on hang-up, Forget
    // or Stop.
    absl::StatusOr<uint64_t> watch = server_->hangups_.Watch(
        fd, [self = shared_from_this()] { self->Release(); });
    if (!watch.ok()) {
      LOG(WARNING) << watch.status()
                   << "; the connection's slot is released now";
      return Release();
    }
    {
      absl::MutexLock l(&mu_);
      watch_id_ = *watch;
    }
    // A Stop that began after HandToGrpc looked did not see this link.
    if (server_->stopping()) Shutdown();
  }

  // The server is stopping: let go of the slot (the gRPC server, stopped
  // after this one, ends the connection itself).
  void Shutdown() override {
    uint64_t id;
    {
      absl::MutexLock l(&mu_);
      id = watch_id_;
    }
    if (id != 0) server_->hangups_.Forget(id);
    Release();
  }

 private:
  void Release() {
    if (released_.exchange(true)) return;
    server_->grpc_open_->Add(-1);
    server_->ReleaseSlot(slot_);
    server_->connections_.fetch_sub(1);
    server_->Unregister(id_);
  }

  Server::Impl* server_;
  uint64_t id_;
  Slot slot_;
  absl::Mutex mu_;
  uint64_t watch_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> released_{false};
};

// ---------------------------------------------------------------------------
// HTTP/1.1 with keep-alive; hands WebSocket upgrades to the sessions above.

class HttpSession : public Session,
                    public std::enable_shared_from_this<HttpSession> {
 public:
  using Slot = Server::Impl::Slot;
  HttpSession(tcp::socket socket, Server::Impl* server, Slot slot)
      : stream_(std::move(socket)),
        server_(server),
        id_(server->NextId()),
        slot_(slot) {}

  void Start() {
    server_->Register(id_, weak_from_this());
    server_->http_connections_->Add(1);
    net::dispatch(stream_.get_executor(),
                  [self = shared_from_this()] { self->Sniff(); });
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
  // One port (design.md §13): a connection whose first bytes are the
  // HTTP/2 client preface goes to the gRPC server; anything else is
  // HTTP/1.1. The bytes are peeked, not read, and the decision is made as
  // soon as they stop matching, so a short HTTP request is never held up.
  void Sniff() {
    if (server_->grpc_ == nullptr) return Read();
    sniff_deadline_ =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(server_->options_.header_timeout_ms);
    WaitReadable();
  }

  void WaitReadable() {
    stream_.socket().async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->CloseSocket();
          self->Peek();
        });
  }

  void Peek() {
    static constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    constexpr size_t kLength = sizeof(kPreface) - 1;  // 24
    char buf[kLength];
    ssize_t n = recv(stream_.socket().native_handle(), buf, kLength,
                     MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return CloseSocket();  // closed before a byte
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK ? WaitReadable()
                                                     : CloseSocket();
    if (std::memcmp(buf, kPreface, n) != 0) return Read();  // HTTP/1.1
    if (static_cast<size_t>(n) == kLength) return HandToGrpc();
    // A prefix of the preface so far: look again shortly (the socket stays
    // readable, so waiting for readability would spin), within the
    // deadline for a request head.
    if (std::chrono::steady_clock::now() >= sniff_deadline_)
      return CloseSocket();
    sniff_timer_ = std::make_unique<net::steady_timer>(
        stream_.get_executor(), std::chrono::milliseconds(2));
    sniff_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->CloseSocket();
      self->Peek();
    });
  }

  // The connection now belongs to gRPC: a duplicate of the socket is handed
  // over, and ours goes to a GrpcLink that holds the client slot until the
  // connection ends. A connection on probation (every client slot taken)
  // is closed instead: only /raft may use those.
  void HandToGrpc() {
    if (slot_ == Slot::kProbation || server_->stopping()) return CloseSocket();
    // release() takes the socket out of Asio's epoll (a close would leave
    // the registration behind while a duplicate lives, waking an io thread
    // for every packet gRPC receives).
    int watched = fcntl(stream_.socket().native_handle(), F_DUPFD_CLOEXEC, 0);
    if (watched < 0) return CloseSocket();
    beast::error_code ec;
    int fd = stream_.socket().release(ec);
    if (ec) {
      close(watched);
      return CloseSocket();
    }
    Handoff();
    server_->grpc_connections_->Inc();
    std::make_shared<GrpcLink>(server_, slot_)->Start(watched);
    server_->grpc_->AddConnection(fd);
  }

  void Read() {
    if (server_->stopping()) return CloseSocket();
    parser_.emplace();
    parser_->body_limit(server_->options_.limits.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    int timeout_ms = first_request_ ? server_->options_.header_timeout_ms
                                    : server_->options_.idle_timeout_ms;
    if (slot_ == Slot::kProbation)
      timeout_ms = server_->options_.probation_timeout_ms;
    stream_.expires_after(std::chrono::milliseconds(timeout_ms));
    http::async_read(
        stream_, buffer_, *parser_,
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
                        "request body over ",
                        server_->options_.limits.max_body_bytes, " bytes")));
    }
    if (ec == http::error::header_limit) {
      return Reject(http::status::request_header_fields_too_large,
                    absl::ResourceExhaustedError("request head too large"));
    }
    if (ec) {
      return Reject(http::status::bad_request,
                    absl::InvalidArgumentError(absl::StrCat(
                        "malformed HTTP request: ", ec.message())));
    }
    http::request<http::string_body> req = parser_->release();
    absl::string_view target(req.target().data(), req.target().size());
    absl::string_view path = target.substr(0, target.find('?'));
    if (path == "/raft") return UpgradeRaft(std::move(req), target);
    if (slot_ == Slot::kProbation) {
      return Reject(
          http::status::service_unavailable,
          absl::UnavailableError(absl::StrCat("too many connections (",
                                              server_->options_.max_connections,
                                              "); retry shortly")));
    }
    if (path == "/stream") return UpgradeStream(std::move(req));
    Serve(std::move(req));
  }

  void UpgradeRaft(http::request<http::string_body> req,
                   absl::string_view target) {
    if (!websocket::is_upgrade(req)) {
      return Reject(http::status::upgrade_required,
                    absl::InvalidArgumentError("/raft speaks WebSocket only"));
    }
    if (server_->stopping()) {
      return Reject(http::status::service_unavailable,
                    absl::UnavailableError("server shutting down"));
    }
    if (server_->peers_ == nullptr) {
      return Reject(http::status::not_found,
                    absl::NotFoundError("this server takes no peers"));
    }
    if (!server_->auth_->IsPeer(std::string(req[http::field::authorization]))) {
      return Reject(http::status::unauthorized,
                    absl::UnauthenticatedError("/raft needs the peer key"));
    }
    size_t q = target.find('?');
    absl::StatusOr<std::map<std::string, std::string>> query =
        ParseQuery(q == absl::string_view::npos ? "" : target.substr(q + 1));
    if (!query.ok()) return Reject(http::status::bad_request, query.status());
    auto it = query->find("nodeId");
    if (it == query->end() || it->second.empty()) {
      return Reject(http::status::bad_request,
                    absl::InvalidArgumentError("/raft needs ?nodeId="));
    }
    auto address = query->find("address");
    auto version = query->find("version");
    if (!server_->TakePeerSlot(slot_)) {
      return Reject(http::status::service_unavailable,
                    absl::UnavailableError("too many peer connections"));
    }
    slot_ = Slot::kPeer;
    Handoff();
    std::make_shared<RaftSession>(
        stream_.release_socket(), server_, it->second,
        address == query->end() ? "" : address->second,
        version == query->end() ? "" : version->second)
        ->Start(std::move(req));
  }

  void UpgradeStream(http::request<http::string_body> req) {
    if (!websocket::is_upgrade(req)) {
      return Reject(
          http::status::upgrade_required,
          absl::InvalidArgumentError("/stream speaks WebSocket only"));
    }
    if (server_->stopping()) {
      return Reject(http::status::service_unavailable,
                    absl::UnavailableError("server shutting down"));
    }
    std::string authorization(req[http::field::authorization]);
    Access access = server_->auth_->Authenticate(authorization);
    if (access == Access::kNone) {
      return Reject(
          http::status::unauthorized,
          absl::UnauthenticatedError(
              "missing or invalid API key: send Authorization: Bearer <key>"));
    }
    auto header = req.find("X-Concordance-Actor");
    absl::StatusOr<std::string> actor = ResolveActor(
        header == req.end() ? std::nullopt
                            : std::optional<std::string>(header->value()),
        access);
    if (!actor.ok()) return Reject(http::status::bad_request, actor.status());
    Handoff();  // the client slot goes with the socket
    Caller caller{access, true, std::move(*actor)};
    std::make_shared<StreamSession>(stream_.release_socket(), server_,
                                    std::move(caller))
        ->Start(std::move(req));
  }

  // The socket now belongs to another session (WebSocket, gRPC link), and
  // so does its slot.
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
    std::weak_ptr<HttpSession> weak = weak_from_this();
    cancel_ = std::make_shared<Cancellation>([weak] {
      if (auto self = weak.lock()) {
        net::post(self->stream_.get_executor(),
                  [self] { self->WatchForClose(); });
      }
    });
    hr.cancel = cancel_;
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    bool head = req.method() == http::verb::head;
    bool write = req.method() == http::verb::put || req.method() == http::verb::post ||
                 req.method() == http::verb::delete_;
    read_at_ = std::chrono::steady_clock::now();
    stream_.expires_never();  // the backend bounds its own waits
    server_->rest_.Handle(std::move(hr), [self = shared_from_this(), keep_alive,
                                          version, head, write](HttpResponse r) {
      auto answered_at = std::chrono::steady_clock::now();
      net::post(self->stream_.get_executor(), [self, r = std::move(r), keep_alive, version,
                                               head, write, answered_at]() mutable {
        self->Write(std::move(r), keep_alive, version, head,
                    write ? std::optional(answered_at) : std::nullopt);
      });
    });
  }

  // A request that may wait long (a long-poll) armed its cancellation:
  // read while it waits, so a client that goes away is noticed at once and
  // its slot and the node's waiter are released. Bytes that arrive instead
  // (a pipelined request) are kept for the next parse.
  void WatchForClose() {
    if (!busy_ || closed_ || watching_ || buffer_.size() > 0) return;
    watching_ = true;
    stream_.async_read_some(
        buffer_.prepare(4096),
        [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->watching_ = false;
          if (n > 0) self->buffer_.commit(n);
          if (ec == net::error::operation_aborted || n > 0) {
            if (self->read_after_watch_) {
              self->read_after_watch_ = false;
              self->Read();
            }
            return;
          }
          if (ec) {  // the client closed or reset the connection
            if (self->cancel_) self->cancel_->Cancel();
            self->CloseSocket();
          }
        });
  }

  // `answered_at`: when the backend answered a write (for the stage
  // metrics); unset for reads.
  void Write(HttpResponse r, bool keep_alive, unsigned version, bool head,
             std::optional<std::chrono::steady_clock::time_point> answered_at) {
    if (closed_) return;  // the client went away while we waited
    cancel_.reset();
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
    stream_.expires_after(
        std::chrono::milliseconds(server_->options_.header_timeout_ms));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive, answered_at](
                          beast::error_code ec, size_t) {
                        self->busy_ = false;
                        if (answered_at && !ec) {
                          auto now = std::chrono::steady_clock::now();
                          using Seconds = std::chrono::duration<double>;
                          self->server_->stage_send_->Observe(
                              Seconds(now - *answered_at).count());
                          self->server_->stage_total_->Observe(
                              Seconds(now - self->read_at_).count());
                        }
                        if (ec || !keep_alive) return self->CloseSocket();
                        if (self->watching_) {
                          // Stop the close watch first; its handler starts the
                          // next read.
                          self->read_after_watch_ = true;
                          beast::error_code ignored;
                          self->stream_.socket().cancel(ignored);
                          return;
                        }
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
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res](beast::error_code ec, size_t) {
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
    stream_.async_read_some(
        net::buffer(discard_),
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
    server_->ReleaseSlot(
        slot_);  // before the gauge: a reader of 1 may use the slot
    server_->http_connections_->Add(-1);
    server_->connections_.fetch_sub(1);
    server_->Unregister(id_);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::chrono::steady_clock::time_point read_at_;  // the request being served
  Server::Impl* server_;
  uint64_t id_;
  Slot slot_;
  std::shared_ptr<Cancellation> cancel_;  // of the request in flight
  bool busy_ = false, close_after_ = false, closed_ = false,
       handed_off_ = false;
  bool first_request_ = true;
  bool watching_ = false, read_after_watch_ = false;
  std::chrono::steady_clock::time_point sniff_deadline_;
  std::unique_ptr<net::steady_timer> sniff_timer_;
  size_t linger_budget_ = 0;
  std::array<char, 16384> discard_;
};

// ---------------------------------------------------------------------------
// A TLS connection: the handshake, then the plaintext end of a socket pair
// is served as any accepted connection (HttpSession tells gRPC from
// HTTP/1.1 by its first bytes). Until the handshake ends this session holds
// the accepted connection's count and slot; then the plaintext side takes
// both, and the bridge counts among bridges_ until its TLS side has closed
// (a stop waits for its last bytes to be flushed).

class TlsSession : public Session, public std::enable_shared_from_this<TlsSession> {
 public:
  using Slot = Server::Impl::Slot;
  TlsSession(tcp::socket socket, Server::Impl* server, Slot slot)
      : executor_(socket.get_executor()),
        conn_(std::make_shared<TlsConnection>(std::move(socket), server->options_.tls->server())),
        server_(server),
        id_(server->NextId()),
        slot_(slot) {}

  void Start() {
    server_->Register(id_, weak_from_this());
    const Server::Options& o = server_->options_;
    int timeout_ms = slot_ == Slot::kProbation ? o.probation_timeout_ms : o.header_timeout_ms;
    auto self = shared_from_this();
    net::dispatch(executor_, [self, timeout_ms] {
      // `closed` must not hold this session (the connection would then
      // hold it for good); `ready` does, and runs once.
      self->conn_->Start(
          net::ssl::stream_base::server, std::chrono::milliseconds(timeout_ms),
          [self](absl::StatusOr<int> fd) { self->Ready(fd); },
          [server = self->server_, id = self->id_, handed = self->handed_] {
            (*handed ? server->bridges_ : server->connections_).fetch_sub(1);
            server->Unregister(id);
          });
    });
  }

  // Before the handshake ends: close. After it the plaintext side's
  // session stops gracefully, and this one follows it.
  void Shutdown() override {
    net::post(executor_, [self = shared_from_this()] {
      if (!*self->handed_) self->conn_->Close();
    });
  }

 private:
  void Ready(absl::StatusOr<int> fd) {
    if (!fd.ok() || server_->stopping()) {
      if (fd.ok()) close(*fd);
      if (!fd.ok()) server_->tls_handshake_failures_->Inc();
      server_->ReleaseSlot(slot_);
      return conn_->Close();
    }
    tcp::socket plain(net::make_strand(server_->ioc()));
    beast::error_code ec;
    plain.assign(tcp::v4(), *fd, ec);
    if (ec) {
      close(*fd);
      server_->ReleaseSlot(slot_);
      return conn_->Close();
    }
    // The accepted connection's count goes to the plaintext side; the
    // bridge now counts as a bridge.
    *handed_ = true;
    server_->bridges_.fetch_add(1);
    std::make_shared<HttpSession>(std::move(plain), server_, slot_)->Start();
  }

  net::any_io_executor executor_;
  std::shared_ptr<TlsConnection> conn_;
  Server::Impl* server_;
  uint64_t id_;
  Slot slot_;
  // Set once the plaintext side is served (read on the connection's strand).
  std::shared_ptr<bool> handed_ = std::make_shared<bool>(false);
};

}  // namespace

absl::Status Server::Impl::Start() {
  if (options_.listen_fd < 0) {
    return absl::FailedPreconditionError("the server has no listening socket");
  }
  beast::error_code ec;
  acceptor_.assign(options_.listen_ipv6 ? tcp::v6() : tcp::v4(),
                   options_.listen_fd, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot adopt the listening socket: ", ec.message()));
  }
  options_.listen_fd = -1;  // the acceptor owns it now
  bound_port_ = acceptor_.local_endpoint(ec).port();
  absl::Status watching = hangups_.Start();
  if (!watching.ok()) return watching;
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
  acceptor_.async_accept(net::make_strand(ioc_),
                         [this](beast::error_code ec, tcp::socket socket) {
                           if (ec == net::error::operation_aborted || stopping_)
                             return;
                           if (ec) return BackOffAccept(ec);
                           accept_backoff_ms_ = 0;
                           OnAccepted(std::move(socket));
                           Accept();
                         });
}

void Server::Impl::BackOffAccept(const beast::error_code& ec) {
  accept_errors_->Inc();
  accept_backoff_ms_ = std::min(1000, std::max(5, accept_backoff_ms_ * 2));
  auto now = std::chrono::steady_clock::now();
  if (now - accept_error_logged_ >= std::chrono::seconds(10)) {
    LOG(WARNING)
        << "accept failed: " << ec.message() << " (" << accept_errors_unlogged_
        << " more failures since the last report); retrying in "
        << accept_backoff_ms_
        << " ms. Raise the open-files limit or lower --max-connections.";
    accept_error_logged_ = now;
    accept_errors_unlogged_ = 0;
  } else {
    ++accept_errors_unlogged_;
  }
  accept_retry_.expires_after(std::chrono::milliseconds(accept_backoff_ms_));
  accept_retry_.async_wait([this](const beast::error_code& e) {
    if (!e && !stopping_) Accept();
  });
}

void Server::Impl::OnAccepted(tcp::socket socket) {
  Slot slot;
  if (client_connections_.fetch_add(1) < options_.max_connections) {
    slot = Slot::kClient;
  } else {
    client_connections_.fetch_sub(1);
    if (probation_connections_.fetch_add(1) < options_.max_peer_connections) {
      slot = Slot::kProbation;
    } else {
      probation_connections_.fetch_sub(1);
      refused_connections_->Inc();
      beast::error_code ignored;
      socket.close(ignored);
      return;
    }
  }
  connections_.fetch_add(1);
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (options_.tls) return std::make_shared<TlsSession>(std::move(socket), this, slot)->Start();
  std::make_shared<HttpSession>(std::move(socket), this, slot)->Start();
}

void Server::Impl::ShutdownSessions(bool peer_links) {
  std::vector<std::shared_ptr<Session>> live;
  {
    absl::MutexLock l(&mu_);
    for (auto& [id, weak] : sessions_) {
      auto session = weak.lock();
      if (session != nullptr && session->peer_link() == peer_links)
        live.push_back(std::move(session));
    }
  }
  for (auto& session : live) session->Shutdown();
}

bool Server::Impl::WaitUntil(const std::function<bool()>& done,
                             std::chrono::steady_clock::time_point deadline) {
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

bool Server::Impl::WaitFor(const std::function<size_t()>& open,
                           std::chrono::steady_clock::time_point deadline) {
  return WaitUntil([&] { return connections_.load() <= open(); }, deadline);
}

// Clients first: in-flight requests are answered while the /raft links
// stay up, so what they wait for can still commit.
void Server::Impl::StopClients(int grace_ms) {
  if (stopping_.exchange(true)) return;
  net::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
  });
  ShutdownSessions(false);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  if (!WaitFor([this] { return peer_connections_.load(); }, deadline)) {
    LOG(WARNING) << connections_.load() - peer_connections_.load()
                 << " client connections still open after " << grace_ms
                 << " ms; closing the rest";
  }
}

void Server::Impl::Stop(int grace_ms) {
  if (stopped_.exchange(true)) return;
  StopClients(grace_ms);
  ShutdownSessions(true);
  // Peers answer a close frame at once; do not wait a client's grace.
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(std::min(grace_ms, 1000));
  if (!WaitFor([] { return size_t{0}; }, deadline) ||
      !WaitUntil([this] { return bridges_.load() == 0; }, deadline)) {
    LOG(WARNING) << connections_.load() << " connections and " << bridges_.load()
                 << " TLS bridges still open; stopping anyway";
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  hangups_.Stop();
}

Server::Server(Options options, Api api, const Authenticator* auth,
               PeerTransport* peers, GrpcServer* grpc,
               metrics::Registry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), api, auth, peers, grpc,
                                   metrics)) {}

Server::~Server() { Stop(0); }

absl::Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::StopClients(int grace_ms) { impl_->StopClients(grace_ms); }
void Server::PostInOrder(std::function<void()> fn) { impl_->PostInOrder(std::move(fn)); }
void Server::Stop(int grace_ms) { impl_->Stop(grace_ms); }

}  // namespace concordance::gateway
