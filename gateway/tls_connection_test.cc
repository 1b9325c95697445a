// TlsConnection on real loopback sockets, with certificates made by
// openssl during the test: bytes cross the bridge both ways, each side's
// end reaches the other, and a TLS peer that stops reading is closed after
// the write timeout instead of holding the connection for good.
#include "gateway/tls_connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "gateway/tls.h"
#include "gtest/gtest.h"
#include "tests/lib/certs.h"
#include "tests/lib/process.h"

namespace concordance::gateway {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using testing::TestCa;
using testing::WaitFor;

class TlsConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<TestCa> ca = TestCa::Make("bridge");
    ASSERT_TRUE(ca);
    std::optional<testing::CertFiles> cert =
        ca->Issue("server", "IP:127.0.0.1");
    ASSERT_TRUE(cert);
    auto tls = TlsContexts::Load({cert->cert, cert->key});
    ASSERT_TRUE(tls.ok()) << tls.status();
    server_ctx_ = (*tls)->server();
    client_ctx_ =
        std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    client_ctx_->load_verify_file(ca->cert());
    client_ctx_->set_verify_mode(net::ssl::verify_peer);
  }

  void TearDown() override {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    if (plain_fd_ >= 0) close(plain_fd_);
  }

  // Accepts one connection into a TlsConnection and connects a TLS client
  // to it; returns once both handshakes are done and the plaintext end is
  // in plain_fd_.
  void Connect(std::chrono::milliseconds write_timeout) {
    tcp::acceptor acceptor(
        ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    client_.emplace(ioc_, *client_ctx_);
    std::atomic<bool> client_ready{false};
    acceptor.async_accept([&](boost::system::error_code ec, tcp::socket s) {
      ASSERT_FALSE(ec) << ec.message();
      conn_ = std::make_shared<TlsConnection>(std::move(s), server_ctx_,
                                              write_timeout);
      conn_->Start(
          net::ssl::stream_base::server, std::chrono::seconds(5),
          [this](absl::StatusOr<int> fd) {
            ASSERT_TRUE(fd.ok()) << fd.status();
            plain_fd_ = *fd;
          },
          [this] { closed_ = true; });
    });
    client_->next_layer().async_connect(
        acceptor.local_endpoint(), [&](boost::system::error_code ec) {
          ASSERT_FALSE(ec) << ec.message();
          client_->async_handshake(net::ssl::stream_base::client,
                                   [&](boost::system::error_code ec) {
                                     ASSERT_FALSE(ec) << ec.message();
                                     client_ready = true;
                                   });
        });
    thread_ = std::thread([this] {
      auto guard = net::make_work_guard(ioc_);
      ioc_.run();
    });
    ASSERT_TRUE(
        WaitFor([&] { return client_ready.load() && plain_fd_.load() >= 0; },
                std::chrono::seconds(5)));
  }

  net::io_context ioc_;
  std::thread thread_;
  std::shared_ptr<net::ssl::context> server_ctx_, client_ctx_;
  std::optional<net::ssl::stream<tcp::socket>> client_;
  std::shared_ptr<TlsConnection> conn_;
  std::atomic<int> plain_fd_{-1};
  std::atomic<bool> closed_{false};
};

TEST_F(TlsConnectionTest, BytesCrossBothWaysAndEachEndReachesTheOther) {
  Connect(std::chrono::seconds(30));
  // Client -> plaintext end.
  // (The client's calls are synchronous, on this thread; the I/O thread
  // serves the bridge.)
  net::write(*client_, net::buffer(std::string("ping")));
  char buf[16];
  ASSERT_EQ(read(plain_fd_, buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  // Plaintext end -> client.
  ASSERT_EQ(send(plain_fd_, "pong", 4, MSG_NOSIGNAL), 4);
  std::string got(4, '\0');
  net::read(*client_, net::buffer(got));
  EXPECT_EQ(got, "pong");
  // The plaintext side closes: the client reads a clean end (close_notify),
  // and the bridge is done.
  close(plain_fd_);
  plain_fd_ = -1;
  boost::system::error_code ec;
  client_->read_some(net::buffer(buf), ec);
  EXPECT_EQ(ec, net::error::eof) << ec.message();
  EXPECT_TRUE(WaitFor([&] { return closed_.load(); }, std::chrono::seconds(5)));
}

TEST_F(TlsConnectionTest, TheClientsEndReachesThePlaintextSide) {
  Connect(std::chrono::seconds(30));
  // The client's side ends (a FIN; a synchronous close_notify would wait
  // for the bridge's, which comes only once the plaintext side ends).
  boost::system::error_code ignored;
  client_->next_layer().shutdown(tcp::socket::shutdown_send, ignored);
  char buf[16];
  pollfd p{plain_fd_, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  EXPECT_EQ(read(plain_fd_, buf, sizeof(buf)), 0)
      << "EOF on the plaintext side";
}

// A TLS peer that stops reading: once its buffers are full the bridge's
// write stalls, and the write timeout ends the connection (without it, the
// connection stayed open for good after the plaintext side gave up).
TEST_F(TlsConnectionTest, APeerThatStopsReadingIsClosedAfterTheWriteTimeout) {
  Connect(std::chrono::milliseconds(300));
  int fd = plain_fd_;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string chunk(64 * 1024, 'x');
  // Fill the client's receive buffer, the bridge's buffers and the socket
  // pair: the client never reads.
  ASSERT_TRUE(WaitFor(
      [&] {
        while (send(fd, chunk.data(), chunk.size(),
                    MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
        }
        return closed_.load() || errno == EPIPE;
      },
      std::chrono::seconds(20)))
      << "the stalled connection was never closed";
  EXPECT_TRUE(WaitFor([&] { return closed_.load(); }, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace concordance::gateway
