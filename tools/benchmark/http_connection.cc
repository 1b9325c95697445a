#include "tools/benchmark/http_connection.h"

#include <boost/asio/connect.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace concordance::benchmark {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

beast::error_code RunToCompletion(boost::asio::io_context& ioc, beast::error_code& ec) {
  ioc.restart();
  ioc.run();
  return ec;
}

absl::Status ConnectStream(boost::asio::io_context& ioc, const std::string& endpoint,
                           std::chrono::milliseconds timeout, beast::tcp_stream* stream) {
  std::pair<std::string, std::string> hp = absl::StrSplit(endpoint, absl::MaxSplits(':', 1));
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(hp.first, hp.second, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(endpoint, ": ", ec.message()));
  stream->expires_after(timeout);
  stream->async_connect(results, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
  if (RunToCompletion(ioc, ec)) return absl::UnavailableError(absl::StrCat(endpoint, ": ", ec.message()));
  stream->socket().set_option(tcp::no_delay(true));
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
  http::response<http::string_body> res;
  stream_->expires_after(timeout_);
  http::async_write(*stream_, req, [&](beast::error_code e, size_t) {
    ec = e;
    if (!e) http::async_read(*stream_, buffer_, res, [&ec](beast::error_code e, size_t) { ec = e; });
  });
  if (RunToCompletion(ioc_, ec)) {
    stream_.reset();
    buffer_.clear();
    return absl::UnavailableError(absl::StrCat(endpoint_, ": ", ec.message()));
  }
  if (!res.keep_alive()) stream_.reset();
  return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace concordance::benchmark
