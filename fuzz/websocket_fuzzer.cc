// Fuzzes WebSocket frames as the server reads them: an upgrade handshake,
// then the input as raw frame bytes from the client, read by Beast's
// websocket stream with the server's settings (message size limit,
// permessage-deflate off) until the stream fails or closes. Frames that
// break the protocol must end in an error, never a crash or a hang.
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdint>
#include <string>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  net::io_context ioc;
  beast::test::stream server(ioc);
  beast::test::stream client(ioc);
  server.connect(client);
  client.write_some(net::buffer(std::string(
      "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n")));
  client.write_some(net::buffer(data, size));
  client.close();  // then EOF
  websocket::stream<beast::test::stream&> ws(server);
  ws.read_message_max(1 << 20);
  beast::error_code ec;
  ws.accept(ec);
  if (ec) return 0;
  beast::flat_buffer buffer;
  for (int i = 0; i < 1000; ++i) {
    buffer.clear();
    ws.read(buffer, ec);
    if (ec) break;
  }
  return 0;
}
