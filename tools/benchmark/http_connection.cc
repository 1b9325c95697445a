#include "tools/benchmark/http_connection.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace concordance::benchmark {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

absl::Status ConnectStream(boost::asio::io_context& ioc, const std::string& endpoint,
                           std::chrono::milliseconds timeout, beast::tcp_stream* stream) {
  std::pair<std::string, std::string> hp = absl::StrSplit(endpoint, absl::MaxSplits(':', 1));
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(hp.first, hp.second, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(endpoint, ": ", ec.message()));
  stream->expires_after(timeout);
  stream->connect(results, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(endpoint, ": ", ec.message()));
  stream->socket().set_option(tcp::no_delay(true));
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(stream->socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(stream->socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return absl::OkStatus();
}

absl::Status HttpConnection::Connect() {
  stream_.emplace(ioc_);
  absl::Status s = ConnectStream(ioc_, endpoint_, timeout_, &*stream_);
  if (!s.ok()) stream_.reset();
  return s;
}

absl::StatusOr<HttpResponse> HttpConnection::Send(http::verb verb, const std::string& target,
                                                  const std::string& body) {
  if (!stream_) {
    absl::Status s = Connect();
    if (!s.ok()) return s;
  }
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, endpoint_);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  if (!bearer_.empty()) req.set(http::field::authorization, "Bearer " + bearer_);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  http::write(*stream_, req, ec);
  http::response<http::string_body> res;
  if (!ec) http::read(*stream_, buffer_, res, ec);
  if (ec) {
    stream_.reset();
    buffer_.clear();
    return absl::UnavailableError(absl::StrCat(endpoint_, ": ", ec.message()));
  }
  if (!res.keep_alive()) stream_.reset();
  return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace concordance::benchmark
