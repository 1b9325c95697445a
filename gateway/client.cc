#include "gateway/client.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <unistd.h>

#include <deque>
#include <optional>
#include <set>
#include <random>
#include <thread>

#include "gateway/raft_codec.h"
#include "gateway/tls_connection.h"
#include "gateway/url.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"

namespace concordance::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// host and port (as text, for the resolver) of "host:port".
absl::Status SplitAddress(const std::string& hostport, std::string* host, std::string* port) {
  uint16_t p = 0;
  absl::Status s = SplitHostPort(hostport, host, &p);
  if (s.ok()) *port = std::to_string(p);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// PeerDialer

class PeerDialer::Impl {
 public:
  Impl(Options o, metrics::Registry* metrics)
      : options_(std::move(o)), rng_(options_.seed), work_(net::make_work_guard(ioc_)) {
    sent_ = metrics->GetCounter("concordance_peer_messages_sent_total",
                                "Raft messages written to peer connections.");
    dropped_ = metrics->GetCounter(
        "concordance_peer_messages_dropped_total",
        "Raft messages dropped: peer unreachable or its queue full (Raft retransmits).");
    connects_ = metrics->GetCounter("concordance_peer_connects_total",
                                    "Outbound peer connections established.");
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "peer-dialer");
      ioc_.run();
    });
  }

  struct Link : std::enable_shared_from_this<Link> {
    Impl* owner;
    std::string id;
    std::string address;
    std::optional<websocket::stream<beast::tcp_stream>> ws;
    std::shared_ptr<TlsConnection> tls;  // with TLS: what `ws` runs over
    tcp::resolver resolver;
    net::steady_timer retry;
    beast::flat_buffer read_buffer;
    std::deque<std::pair<std::string, std::string>> queue;
    bool connected = false, connecting = false, writing = false, closed = false;
    int attempt = 0;
    uint64_t generation = 0;  // bumped on every (re)connect: stale handlers return

    Link(Impl* o, std::string i, std::string a)
        : owner(o), id(std::move(i)), address(std::move(a)), resolver(o->ioc_), retry(o->ioc_) {}

    void Connect() {
      if (closed) return;
      connecting = true;
      uint64_t gen = ++generation;
      std::string host, port;
      if (!SplitAddress(address, &host, &port).ok()) {
        LOG(ERROR) << "peer " << id << " has a bad address \"" << address << "\"";
        return Fail(gen, "bad address");
      }
      ws.emplace(owner->ioc_);
      auto self = shared_from_this();
      resolver.async_resolve(host, port, [self, gen, host](beast::error_code ec,
                                                           tcp::resolver::results_type results) {
        if (ec || gen != self->generation) return self->Fail(gen, ec.message());
        auto& stream = beast::get_lowest_layer(*self->ws);
        stream.expires_after(std::chrono::milliseconds(self->owner->options_.connect_timeout_ms));
        stream.async_connect(results, [self, gen, host](beast::error_code ec, tcp::endpoint ep) {
          if (ec || gen != self->generation) return self->Fail(gen, ec.message());
          beast::error_code ignored;
          beast::get_lowest_layer(*self->ws).socket().set_option(tcp::no_delay(true), ignored);
          if (self->owner->options_.tls) return self->StartTls(gen, host, ep.port());
          self->Handshake(gen, host, ep.port());
        });
      });
    }

    // wss://: TLS on the connected socket, then the WebSocket over the
    // plaintext end of the TLS connection's socket pair.
    void StartTls(uint64_t gen, const std::string& host, uint16_t port) {
      const TlsContexts& t = *owner->options_.tls;
      auto& lowest = beast::get_lowest_layer(*ws);
      lowest.expires_never();
      tls = std::make_shared<TlsConnection>(lowest.release_socket(), t.client());
      absl::Status prepared = t.PrepareDial(tls->ssl(), host);
      if (!prepared.ok()) return Fail(gen, std::string(prepared.message()));
      auto self = shared_from_this();
      tls->Start(
          net::ssl::stream_base::client, std::chrono::milliseconds(owner->options_.connect_timeout_ms),
          [self, gen, host, port](absl::StatusOr<int> fd) {
            if (gen != self->generation) {
              if (fd.ok()) close(*fd);
              return;
            }
            absl::Status s = fd.status();
            if (s.ok()) s = self->owner->options_.tls->CheckPeerName(self->tls->ssl(), self->id);
            if (s.ok()) {
              self->ws.emplace(self->owner->ioc_);
              beast::error_code ec;
              beast::get_lowest_layer(*self->ws).socket().assign(tcp::v4(), *fd, ec);
              if (!ec) return self->Handshake(gen, host, port);
              s = absl::InternalError(ec.message());
            }
            if (fd.ok()) close(*fd);
            // A certificate that does not verify will not start to: say why,
            // on the first failure and then now and then.
            if (self->attempt % 20 == 0) {
              LOG(WARNING) << "TLS to peer " << self->id << " at " << self->address
                           << " failed: " << s.message();
            }
            self->Fail(gen, std::string(s.message()));
          },
          [] {});
    }

    void Handshake(uint64_t gen, const std::string& host, uint16_t port) {
      auto self = shared_from_this();
      const Options& o = owner->options_;
      ws->set_option(websocket::stream_base::decorator([o](websocket::request_type& req) {
        if (!o.peer_key.empty()) req.set(http::field::authorization, "Bearer " + o.peer_key);
      }));
      std::string target = "/raft?nodeId=" + PercentEncode(o.self_id) +
                           "&address=" + PercentEncode(o.self_address);
      if (!o.self_version.empty()) target += "&version=" + PercentEncode(o.self_version);
      beast::get_lowest_layer(*ws).expires_after(std::chrono::milliseconds(o.connect_timeout_ms));
      ws->async_handshake(
          host + ":" + std::to_string(port), target, [self, gen](beast::error_code ec) {
            if (ec || gen != self->generation) return self->Fail(gen, ec.message());
            beast::get_lowest_layer(*self->ws).expires_never();
            websocket::stream_base::timeout t =
                websocket::stream_base::timeout::suggested(beast::role_type::client);
            t.idle_timeout = std::chrono::seconds(10);
            t.keep_alive_pings = true;
            self->ws->set_option(t);
            self->connected = true;
            self->connecting = false;
            self->attempt = 0;
            self->owner->connects_->Inc();
            self->owner->SetConnected(self->id, true);
            LOG(INFO) << "connected to peer " << self->id << " at " << self->address
                      << (self->tls ? " (TLS)" : "");
            self->Read(gen);
            if (!self->queue.empty() && !self->writing) self->Write(gen);
          });
    }

    // The server never sends us messages on this connection; reading keeps
    // pings answered and notices a close.
    void Read(uint64_t gen) {
      auto self = shared_from_this();
      ws->async_read(read_buffer, [self, gen](beast::error_code ec, size_t) {
        if (gen != self->generation) return;
        self->read_buffer.consume(self->read_buffer.size());
        if (ec == websocket::error::closed &&
            self->ws->reason().code == kPeerRemovedCloseCode && self->owner->options_.on_removed) {
          self->owner->options_.on_removed(self->id, std::string(self->ws->reason().reason.data(), self->ws->reason().reason.size()));
        }
        if (ec) return self->Fail(gen, ec.message());
        self->Read(gen);
      });
    }

    void Write(uint64_t gen) {
      writing = true;
      auto self = shared_from_this();
      ws->text(true);
      ws->async_write(net::buffer(queue.front().first), [self, gen](beast::error_code ec, size_t) {
        if (gen != self->generation) return;
        if (ec) return self->Fail(gen, ec.message());
        if (self->queue.front().second.empty()) return self->Written(gen);
        self->ws->binary(true);
        self->ws->async_write(net::buffer(self->queue.front().second),
                              [self, gen](beast::error_code ec, size_t) {
                                if (gen != self->generation) return;
                                if (ec) return self->Fail(gen, ec.message());
                                self->Written(gen);
                              });
      });
    }

    void Written(uint64_t gen) {
      queue.pop_front();
      owner->sent_->Inc();
      writing = false;
      if (!queue.empty()) Write(gen);
    }

    void Fail(uint64_t gen, const std::string& why) {
      if (gen != generation || closed) return;
      if (connected) LOG(INFO) << "lost peer " << id << " (" << why << "); reconnecting";
      ++generation;  // outstanding handlers of this attempt become stale
      connected = connecting = writing = false;
      owner->SetConnected(id, false);
      owner->dropped_->Inc(queue.size());
      queue.clear();
      CloseSockets();
      int base = std::min(owner->options_.backoff_max_ms,
                          owner->options_.backoff_min_ms << std::min(attempt, 10));
      ++attempt;
      std::uniform_int_distribution<int> jitter(base / 2, base + base / 2);
      retry.expires_after(std::chrono::milliseconds(jitter(owner->rng_)));
      auto self = shared_from_this();
      retry.async_wait([self](beast::error_code ec) {
        if (!ec) self->Connect();
      });
    }

    void Close() {
      closed = true;
      ++generation;
      retry.cancel();
      owner->SetConnected(id, false);
      CloseSockets();
    }

    void CloseSockets() {
      if (ws) {
        beast::error_code ignored;
        beast::get_lowest_layer(*ws).socket().close(ignored);
      }
      if (tls) {
        tls->Close();
        tls.reset();
      }
    }
  };

  void SetConnected(const std::string& id, bool up) {
    absl::MutexLock l(&mu_);
    if (up) {
      connected_.insert(id);
    } else {
      connected_.erase(id);
    }
  }

  Options options_;
  std::mt19937_64 rng_;
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
  std::map<std::string, std::shared_ptr<Link>> links_;  // dialer thread only
  mutable absl::Mutex mu_;
  std::set<std::string> connected_ ABSL_GUARDED_BY(mu_);
  metrics::Counter* sent_;
  metrics::Counter* dropped_;
  metrics::Counter* connects_;
  bool stopped_ = false;
};

PeerDialer::PeerDialer(Options options, metrics::Registry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

PeerDialer::~PeerDialer() { Stop(); }

void PeerDialer::SetPeers(const std::map<std::string, std::string>& peers) {
  net::post(impl_->ioc_, [impl = impl_.get(), peers] {
    if (impl->stopped_) return;
    for (auto it = impl->links_.begin(); it != impl->links_.end();) {
      auto want = peers.find(it->first);
      if (want == peers.end() || want->second != it->second->address) {
        it->second->Close();
        it = impl->links_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, address] : peers) {
      if (id == impl->options_.self_id || impl->links_.count(id)) continue;
      auto link = std::make_shared<Impl::Link>(impl, id, address);
      impl->links_[id] = link;
      link->Connect();
    }
  });
}

bool PeerDialer::Send(const std::string& peer_id, std::string text, std::string binary) {
  if (!Connected(peer_id)) {
    impl_->dropped_->Inc();
    return false;
  }
  std::vector<Frame> one;  // (checked again in SendAll: it may just have closed)
  one.push_back(Frame{peer_id, std::move(text), std::move(binary)});
  SendAll(std::move(one));
  return true;
}

void PeerDialer::SendAll(std::vector<Frame> frames) {
  // Frames for a peer not connected now are dropped here (Raft resends).
  size_t kept = 0;
  for (Frame& f : frames) {
    if (!Connected(f.peer_id)) {
      impl_->dropped_->Inc();
      continue;
    }
    if (&frames[kept] != &f) frames[kept] = std::move(f);
    ++kept;
  }
  frames.resize(kept);
  if (frames.empty()) return;
  net::post(impl_->ioc_, [impl = impl_.get(), frames = std::move(frames)]() mutable {
    for (Frame& f : frames) {
      auto it = impl->links_.find(f.peer_id);
      if (it == impl->links_.end() || !it->second->connected ||
          it->second->queue.size() >= impl->options_.max_queue) {
        impl->dropped_->Inc();
        continue;
      }
      Impl::Link& link = *it->second;
      link.queue.emplace_back(std::move(f.text), std::move(f.binary));
      if (!link.writing) link.Write(link.generation);
    }
  });
}

bool PeerDialer::Connected(const std::string& peer_id) const {
  absl::MutexLock l(&impl_->mu_);
  return impl_->connected_.count(peer_id) > 0;
}

void PeerDialer::Stop() {
  if (!impl_->thread_.joinable()) return;
  net::post(impl_->ioc_, [impl = impl_.get()] {
    impl->stopped_ = true;
    for (auto& [id, link] : impl->links_) link->Close();
    impl->links_.clear();
  });
  impl_->work_.reset();
  // Closing sockets completes every handler; the thread then runs out of work.
  impl_->thread_.join();
}

// ---------------------------------------------------------------------------
// HttpCall

namespace {

// Writes `req` and reads the answer on a connected `stream` (a tcp_stream,
// or an ssl_stream over one once its handshake is done).
template <typename Stream>
void Exchange(Stream& stream, http::request<http::string_body>& req, beast::flat_buffer& buffer,
              http::response_parser<http::string_body>& parser, beast::error_code& result) {
  http::async_write(stream, req, [&](beast::error_code ec, size_t) {
    if (ec) return void(result = ec);
    http::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) { result = ec; });
  });
}

}  // namespace

absl::StatusOr<HttpReply> HttpCall(const std::string& host_port, const std::string& method,
                                   const std::string& target, const std::string& body,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   int timeout_ms, const TlsContexts* tls) {
  std::string host, port;
  absl::Status split = SplitAddress(host_port, &host, &port);
  if (!split.ok()) return split;
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  std::shared_ptr<net::ssl::context> ctx = tls ? tls->client() : nullptr;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  if (ctx) {
    secure.emplace(ioc, *ctx);
    absl::Status prepared = tls->PrepareDial(secure->native_handle(), host);
    if (!prepared.ok()) return prepared;
  } else {
    plain.emplace(ioc);
  }
  beast::tcp_stream& stream = ctx ? beast::get_lowest_layer(*secure) : *plain;
  beast::flat_buffer buffer;
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, host_port);
  req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 << 20);
  beast::error_code result = net::error::timed_out;
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  resolver.async_resolve(host, port, [&](beast::error_code ec, tcp::resolver::results_type r) {
    if (ec) return void(result = ec);
    stream.async_connect(r, [&](beast::error_code ec, tcp::endpoint) {
      if (ec) return void(result = ec);
      if (!secure) return Exchange(stream, req, buffer, parser, result);
      secure->async_handshake(net::ssl::stream_base::client, [&](beast::error_code ec) {
        if (ec) return void(result = ec);
        Exchange(*secure, req, buffer, parser, result);
      });
    });
  });
  ioc.run_for(std::chrono::milliseconds(timeout_ms + 100));
  if (result) {
    return absl::UnavailableError(absl::StrCat(method, secure ? " https://" : " http://", host_port,
                                               target, ": ", result.message()));
  }
  HttpReply reply;
  auto res = parser.release();
  reply.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(tolower(c));
    reply.headers[name] = std::string(f.value());
  }
  reply.body = std::move(res.body());
  return reply;
}

}  // namespace concordance::gateway
