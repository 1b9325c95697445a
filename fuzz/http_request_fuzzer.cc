// Fuzzes the HTTP request path: raw bytes through Beast's request parser
// with the server's header and body limits, then the REST router and the
// JSON codecs (gateway/rest_handler.h) against a fake API. Every answer must
// be a complete response whose JSON body parses.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gateway/auth.h"
#include "gateway/json.h"
#include "gateway/rest_handler.h"
#include "gateway/testing/fake_api.h"

namespace http = boost::beast::http;
using namespace concordance::gateway;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* auth = new Authenticator(Keys{"api", "agent", ""});
  testing::FakeApi api;
  RestHandler rest(api.api(), auth, {}, nullptr);

  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  (void)used;
  if (ec || !parser.is_done()) return 0;  // the server answers 400 and closes
  const auto& msg = parser.get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  auto auth_header = msg.find(http::field::authorization);
  if (auth_header != msg.end())
    req.authorization = std::string(auth_header->value());
  auto actor = msg.find("X-Concordance-Actor");
  if (actor != msg.end()) req.actor = std::string(actor->value());
  req.body = msg.body();
  bool answered = false;
  rest.Handle(std::move(req), [&](HttpResponse resp) {
    answered = true;
    if (resp.status < 100 || resp.status > 599) abort();
    if (resp.content_type == "application/json" && !resp.body.empty() &&
        !ParseJson(resp.body, 1000).ok()) {
      abort();  // an answer that is not JSON
    }
  });
  if (!answered) abort();  // the fake answers at once: so must the router
  return 0;
}
