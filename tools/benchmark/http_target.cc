#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/benchmark/target.h"

namespace concordance::benchmark {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Http final : public Target {
 public:
  explicit Http(const TargetOptions& o) : options_(o) {}

  absl::Status Connect() {
    std::pair<std::string, std::string> hp = absl::StrSplit(options_.endpoint, absl::MaxSplits(':', 1));
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(hp.first, hp.second, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(options_.endpoint, ": ", ec.message()));
    stream_.emplace(ioc_);
    stream_->expires_after(options_.timeout);
    stream_->connect(results, ec);
    if (ec) {
      stream_.reset();
      return absl::UnavailableError(absl::StrCat(options_.endpoint, ": ", ec.message()));
    }
    stream_->socket().set_option(tcp::no_delay(true));
    // Beast's expiry covers asynchronous calls only: bound the blocking
    // reads and writes in the kernel.
    timeval tv{static_cast<time_t>(options_.timeout.count() / 1000),
               static_cast<suseconds_t>(options_.timeout.count() % 1000 * 1000)};
    setsockopt(stream_->socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(stream_->socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return absl::OkStatus();
  }

  absl::Status Put(const std::string& key, const std::string& value_json) override {
    if (!stream_) {
      absl::Status s = Connect();
      if (!s.ok()) return s;
    }
    http::request<http::string_body> req{http::verb::put,
                                         absl::StrCat("/api/v1/kv/", options_.ns, "/", key), 11};
    req.set(http::field::host, options_.endpoint);
    req.set(http::field::content_type, "application/json");
    if (!options_.api_key.empty()) req.set(http::field::authorization, "Bearer " + options_.api_key);
    req.keep_alive(true);
    req.body() = absl::StrCat("{\"value\":", value_json, "}");
    req.prepare_payload();
    beast::error_code ec;
    stream_->expires_after(options_.timeout);
    http::write(*stream_, req, ec);
    http::response<http::string_body> res;
    if (!ec) http::read(*stream_, buffer_, res, ec);
    if (ec) {
      stream_.reset();  // reconnect on the next call
      buffer_.clear();
      return absl::UnavailableError(ec.message());
    }
    if (!res.keep_alive()) stream_.reset();
    if (res.result() != http::status::ok) {
      return absl::UnknownError(absl::StrCat("HTTP ", res.result_int(), ": ", res.body()));
    }
    return absl::OkStatus();
  }

 private:
  const TargetOptions options_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> HttpTarget(const TargetOptions& o) {
  auto t = std::make_unique<Http>(o);
  absl::Status s = t->Connect();
  if (!s.ok()) return s;
  return std::unique_ptr<Target>(std::move(t));
}

}  // namespace concordance::benchmark
