// One keep-alive HTTP/1.1 connection (Beast) used as if blocking: each
// request runs Beast's asynchronous operations on a private io_context
// under the stream's expiry, so a server that stops answering costs one
// deadline, never a hang. Reconnects on the next request after a failure.
// Not thread-safe.
#ifndef CONCORDANCE_TOOLS_BENCHMARK_HTTP_CONNECTION_H_
#define CONCORDANCE_TOOLS_BENCHMARK_HTTP_CONNECTION_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace concordance::benchmark {

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpConnection {
 public:
  HttpConnection(std::string endpoint, std::string bearer, std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)), bearer_(std::move(bearer)), timeout_(timeout) {}

  absl::Status Connect();
  // Sends one request with a JSON body ("" = none); UNAVAILABLE when the
  // connection failed (the next request reconnects).
  absl::StatusOr<HttpResponse> Send(boost::beast::http::verb verb, const std::string& target,
                                    const std::string& body);

 private:
  const std::string endpoint_;
  const std::string bearer_;
  const std::chrono::milliseconds timeout_;
  boost::asio::io_context ioc_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

// Connects a TCP stream (of `ioc`) to host:port within `timeout`.
absl::Status ConnectStream(boost::asio::io_context& ioc, const std::string& endpoint,
                           std::chrono::milliseconds timeout, boost::beast::tcp_stream* stream);

// Runs `ioc` until its queued operations end (they are bounded by a stream
// expiry); returns the error they reported through `ec`.
boost::beast::error_code RunToCompletion(boost::asio::io_context& ioc, boost::beast::error_code& ec);

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_HTTP_CONNECTION_H_
