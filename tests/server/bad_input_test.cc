// Bad input gets a clear error and loses nothing: every case below gets its
// documented error while the node keeps serving others, and nothing partial
// is ever written (checked at the end through the changelog).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"
#include "tests/lib/node.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

constexpr size_t kMaxValue = 1 << 20;
constexpr size_t kMaxBody = (3 << 20) / 2;
constexpr size_t kMaxWsMessage = (3 << 20) / 2;

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = new TestNode("bad-input");
    ASSERT_TRUE(node_->Start({"--bootstrap"}));
    ASSERT_TRUE(node_->WaitReady());
  }
  static void TearDownTestSuite() {
    node_->Stop();
    delete node_;
  }
  static int64_t LastSeq() {
    auto c = ParseJson(node_->http().Request("GET", "/api/v1/changes?tenant=bad&since=0&limit=1000").body);
    return c["changes"].Size();
  }
  // Expects an error response with `status` and error code `code`.
  void ExpectError(const HttpResult& r, int status, const char* code) {
    EXPECT_EQ(r.status, status) << r.body;
    auto d = ParseJson(r.body);
    ASSERT_TRUE(d.HasMember("error")) << r.body;
    EXPECT_EQ(JsonString(d["error"], "code"), code) << r.body;
    EXPECT_FALSE(JsonString(d["error"], "message").empty());
  }
  // The node still answers a simple read and write.
  void ExpectServing() {
    HttpClient fresh("127.0.0.1", node_->port());
    EXPECT_EQ(fresh.Request("PUT", "/api/v1/kv/tenant:ok/s/alive", "{\"value\":1}").status, 200);
    EXPECT_EQ(fresh.Request("GET", "/api/v1/kv/tenant:ok/s/alive").status, 200);
  }
  HttpResult Put(const std::string& path, const std::string& body) {
    return node_->http().Request("PUT", path, body);
  }
  static TestNode* node_;
};
TestNode* BadInputTest::node_ = nullptr;

const std::string kK = "/api/v1/kv/tenant:bad/settings/k";

TEST_F(BadInputTest, RestRejectsMalformedAndMistypedBodies) {
  int64_t before = LastSeq();
  ExpectError(Put(kK, "{\"value\":"), 400, "invalid_argument");
  ExpectError(Put(kK, "not json"), 400, "invalid_argument");
  ExpectError(Put(kK, "{\"value\":1} trailing"), 400, "invalid_argument");
  ExpectError(Put(kK, "[1]"), 400, "invalid_argument");
  ExpectError(Put(kK, "{\"nothing\":1}"), 400, "invalid_argument");
  ExpectError(Put(kK, "{\"value\":1,\"expectedVersion\":\"2\"}"), 400, "invalid_argument");
  ExpectError(Put(kK, "{\"value\":1,\"ttlMs\":1.5}"), 400, "invalid_argument");
  ExpectError(Put(kK, "{\"value\":1,\"ttlMs\":0}"), 400, "invalid_argument");
  ExpectError(Put(kK, "{\"value\":1,\"ttlMs\":9223372036854775807}"), 400, "invalid_argument");
  ExpectError(Put(kK, "{\"value\":1,\"expiresAt\":9223372036854775807}"), 400, "invalid_argument");
  // A page size that would wrap to 1 as a 32-bit int.
  ExpectError(node_->http().Request("GET", "/api/v1/kv/tenant:bad/settings/?limit=4294967297"), 400,
              "invalid_argument");
  ExpectError(node_->http().Request("GET", "/api/v1/changes?tenant=bad&since=9223372036854775807&limit=4294967297"),
              400, "invalid_argument");
  // The largest `since` is valid (nothing after it), not an overflow.
  HttpResult far = node_->http().Request("GET", "/api/v1/changes?tenant=bad&since=9223372036854775807");
  EXPECT_EQ(far.status, 200) << far.body;
  EXPECT_EQ(ParseJson(far.body)["changes"].Size(), 0u) << far.body;
  ExpectError(Put(kK, "{\"value\":\"\xff\xfe\"}"), 400, "invalid_argument");  // bad UTF-8
  ExpectError(Put(kK, std::string(100, '[') + std::string(100, ']')), 400, "invalid_argument");
  ExpectError(node_->http().Request("POST", "/api/v1/batch", "{\"ops\":\"x\"}"), 400, "invalid_argument");
  ExpectError(node_->http().Request("POST", "/api/v1/batch",
                                    "{\"ops\":[{\"op\":\"set\",\"namespace\":\"tenant:bad/s\",\"key\":\"a\",\"value\":1},"
                                    "{\"op\":\"set\",\"namespace\":\"bad\",\"key\":\"b\",\"value\":1}]}"),
              400, "invalid_argument");
  EXPECT_EQ(LastSeq(), before);
  ExpectServing();
}

TEST_F(BadInputTest, RestRejectsBadNamespacesKeysAndPaths) {
  int64_t before = LastSeq();
  ExpectError(Put("/api/v1/kv/acme/settings/k", "{\"value\":1}"), 400, "invalid_argument");
  ExpectError(Put("/api/v1/kv/tenant:/settings/k", "{\"value\":1}"), 400, "invalid_argument");
  ExpectError(Put("/api/v1/kv/tenant:bad//k", "{\"value\":1}"), 400, "invalid_argument");
  ExpectError(Put("/api/v1/kv/tenant:bad/set%0Atings/k", "{\"value\":1}"), 400, "invalid_argument");
  ExpectError(Put("/api/v1/kv/tenant:bad/settings/", "{\"value\":1}"), 400, "invalid_argument");
  ExpectError(Put("/api/v1/kv/tenant:bad/settings/%zz", "{\"value\":1}"), 400, "invalid_argument");
  ExpectError(node_->http().Request("GET", "/api/v1/nope"), 404, "not_found");
  ExpectError(node_->http().Request("GET", "/nothing/here"), 404, "not_found");
  ExpectError(node_->http().Request("GET", "/api/v1/changes?tenant=bad&since=abc"), 400, "invalid_argument");
  ExpectError(node_->http().Request("GET", "/api/v1/changes?tenant=a/b"), 400, "invalid_argument");
  EXPECT_EQ(node_->http().Request("PATCH", kK, "{}").status, 405);
  EXPECT_EQ(LastSeq(), before);
  ExpectServing();
}

TEST_F(BadInputTest, LimitsAreExactToTheByte) {
  int64_t before = LastSeq();
  // Value: its serialized JSON at the limit is fine, one byte more is not.
  std::string at(kMaxValue - 2, 'v');  // plus two quotes = the limit
  EXPECT_EQ(Put(kK, "{\"value\":\"" + at + "\"}").status, 200);
  ExpectError(Put(kK, "{\"value\":\"" + at + "v\"}"), 413, "too_large");
  // Body: padded with whitespace to exactly the limit, then one byte over.
  std::string body = "{\"value\":1}";
  body += std::string(kMaxBody - body.size(), ' ');
  EXPECT_EQ(Put(kK, body).status, 200);
  ExpectError(Put(kK, body + " "), 413, "too_large");
  // Namespace 256 bytes, key 512 bytes.
  std::string ns = "tenant:bad/" + std::string(256 - 11, 'n');
  EXPECT_EQ(Put("/api/v1/kv/" + ns + "/k", "{\"value\":1}").status, 200);
  ExpectError(Put("/api/v1/kv/" + ns + "n/k", "{\"value\":1}"), 413, "too_large");
  EXPECT_EQ(Put("/api/v1/kv/tenant:bad/keys/" + std::string(512, 'k'), "{\"value\":1}").status, 200);
  ExpectError(Put("/api/v1/kv/tenant:bad/keys/" + std::string(513, 'k'), "{\"value\":1}"), 413, "too_large");
  // Batch: 128 ops fine, 129 not.
  auto batch = [](int n) {
    std::string b = "{\"ops\":[";
    for (int i = 0; i < n; ++i) {
      if (i) b += ",";
      b += "{\"op\":\"set\",\"namespace\":\"tenant:bad/batch\",\"key\":\"k" + std::to_string(i) + "\",\"value\":1}";
    }
    return b + "]}";
  };
  EXPECT_EQ(node_->http().Request("POST", "/api/v1/batch", batch(128)).status, 200);
  ExpectError(node_->http().Request("POST", "/api/v1/batch", batch(129)), 413, "too_large");
  // Exactly the successful writes reached the changelog.
  EXPECT_EQ(LastSeq(), before + 4 + 128);
  ExpectServing();
}

TEST_F(BadInputTest, OversizedBodyIsRefusedFromItsHeaders) {
  // A declared Content-Length over the limit is refused without the body.
  std::string head = "PUT " + kK + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(kMaxBody + 1) + "\r\n\r\n";
  std::string reply = node_->http().Raw(head);
  EXPECT_NE(reply.find("413"), std::string::npos) << reply;
  EXPECT_NE(reply.find("too_large"), std::string::npos) << reply;
  // Garbage instead of HTTP: 400, connection closed, node fine.
  reply = node_->http().Raw("GARBAGE\r\n\r\n");
  EXPECT_NE(reply.find("400"), std::string::npos) << reply;
  ExpectServing();
}

TEST_F(BadInputTest, JsonRpcErrors) {
  int64_t before = LastSeq();
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node_->port(), "/stream"));
  auto recv = [&] { return ParseJson(ws.Receive().value_or("{}")); };
  ws.SendText("{this is not json");
  EXPECT_EQ(RpcErrorCode(recv()), -32700);
  ws.SendText("{\"jsonrpc\":\"2.0\",\"id\":1}");
  EXPECT_EQ(RpcErrorCode(recv()), -32600);
  ws.SendText("{\"jsonrpc\":\"1.0\",\"id\":2,\"method\":\"kv/get\"}");
  EXPECT_EQ(RpcErrorCode(recv()), -32600);
  ws.SendText("[]");
  EXPECT_EQ(RpcErrorCode(recv()), -32600);
  ws.SendText("42");
  EXPECT_EQ(RpcErrorCode(recv()), -32600);
  EXPECT_EQ(RpcErrorCode(Call(ws, 3, "kv/explode", "{}")), -32601);
  EXPECT_EQ(RpcErrorCode(Call(ws, 4, "kv/set", "{\"namespace\":\"nope\",\"key\":\"k\",\"value\":1}")), -32602);
  EXPECT_EQ(RpcErrorCode(Call(ws, 5, "kv/set", "{\"namespace\":\"tenant:bad/s\",\"key\":\"\",\"value\":1}")), -32602);
  EXPECT_EQ(RpcErrorCode(Call(ws, 6, "kv/set", "{\"namespace\":\"tenant:bad/s\",\"key\":7,\"value\":1}")), -32602);
  EXPECT_EQ(RpcErrorCode(Call(ws, 7, "kv/set", "{\"namespace\":\"tenant:bad/s\",\"key\":\"k\"}")), -32602);
  EXPECT_EQ(RpcErrorCode(Call(ws, 8, "kv/get", "[1,2]")), -32602);
  auto big = Call(ws, 9, "kv/set",
                  "{\"namespace\":\"tenant:bad/s\",\"key\":\"k\",\"value\":\"" + std::string(kMaxValue, 'v') + "\"}");
  EXPECT_EQ(RpcErrorCode(big), -32602);
  EXPECT_EQ(JsonString(big["error"]["data"], "code"), "too_large");
  ws.SendBinary(std::string("\x00\x01\x02", 3));
  auto bin = recv();
  EXPECT_EQ(RpcErrorCode(bin), -32600);
  EXPECT_NE(JsonString(bin["error"], "message").find("binary"), std::string::npos);
  // Still usable after all of that.
  EXPECT_TRUE(Call(ws, 10, "kv/get", "{\"namespace\":\"tenant:ok/s\",\"key\":\"alive\"}").IsObject());
  EXPECT_EQ(LastSeq(), before);
}

TEST_F(BadInputTest, HandshakeEdgesAndClientChosenNamesAreContained) {
  // A /raft upgrade whose query does not decode: refused, node unharmed.
  WsClient raft;
  std::string error;
  EXPECT_FALSE(raft.Connect("127.0.0.1", node_->port(), "/raft?nodeId=%zz", {}, &error));
  EXPECT_NE(error.find("400"), std::string::npos) << error;
  // An actor header that is too long or not UTF-8 is refused on /stream as on REST.
  for (const std::string& actor : {std::string(257, 'a'), std::string("\xff")}) {
    WsClient ws;
    EXPECT_FALSE(ws.Connect("127.0.0.1", node_->port(), "/stream",
                            {{"X-Concordance-Actor", actor}}, &error));
    EXPECT_NE(error.find("400"), std::string::npos) << error;
  }
  // Made-up HTTP methods and JSON-RPC method names get errors, and none of
  // them becomes a metric label (the registry would grow without bound).
  for (int i = 0; i < 20; ++i) {
    HttpResult r = node_->http().Request("MADEUP" + std::to_string(i), "/api/v1/health");
    EXPECT_GE(r.status, 400) << r.body;
  }
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node_->port(), "/stream"));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(RpcErrorCode(Call(ws, i, "madeup/" + std::to_string(i), "{}")), -32601);
  }
  std::string metrics = node_->http().Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("concordance_http_requests_total"), std::string::npos);
  EXPECT_NE(metrics.find("method=\"other\""), std::string::npos);
  EXPECT_NE(metrics.find("method=\"unknown\""), std::string::npos);
  EXPECT_EQ(metrics.find("MADEUP"), std::string::npos);
  EXPECT_EQ(metrics.find("madeup/"), std::string::npos);
  ExpectServing();
}

TEST_F(BadInputTest, OversizedWebSocketMessageClosesWith1009) {
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node_->port(), "/stream"));
  ws.SendText(std::string(kMaxWsMessage + 1, ' '));
  ASSERT_TRUE(WaitFor([&] { return ws.closed(); }, std::chrono::seconds(5)));
  EXPECT_EQ(ws.close_code(), 1009);
  ExpectServing();
}

TEST_F(BadInputTest, FloodOfTenThousandMessagesFromOneClient) {
  WsClient flooder, other;
  ASSERT_TRUE(flooder.Connect("127.0.0.1", node_->port(), "/stream"));
  ASSERT_TRUE(other.Connect("127.0.0.1", node_->port(), "/stream"));
  constexpr int kN = 10000;
  std::thread flood([&] {
    for (int i = 0; i < kN; ++i) {
      std::string req = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
                        ",\"method\":\"kv/get\",\"params\":{\"namespace\":\"tenant:bad/s\",\"key\":\"k\"}}";
      if (!flooder.SendText(req)) break;
    }
  });
  // While the flood runs, another client is served.
  auto w = Call(other, 1, "kv/set", "{\"namespace\":\"tenant:flood/s\",\"key\":\"k\",\"value\":1}");
  EXPECT_TRUE(w.HasMember("result"));
  auto r = Call(other, 2, "kv/get", "{\"namespace\":\"tenant:flood/s\",\"key\":\"k\"}");
  EXPECT_TRUE(r.HasMember("result"));
  // The flooder gets an answer to every request.
  int answers = 0;
  while (answers < kN) {
    std::optional<std::string> m = flooder.Receive(std::chrono::seconds(20));
    if (!m) break;
    ++answers;
  }
  flood.join();
  EXPECT_EQ(answers, kN);
  ExpectServing();
}

// A WebSocket client on a raw socket that subscribes and then never reads.
int StalledSubscriber(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  std::string upgrade =
      "GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (write(fd, upgrade.data(), upgrade.size()) != static_cast<ssize_t>(upgrade.size())) return -1;
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && read(fd, &c, 1) == 1) head.push_back(c);
  if (head.find(" 101 ") == std::string::npos) return -1;
  std::string payload = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"watch/subscribe\",\"params\":{\"tenant\":\"slow\"}}";
  std::string frame;
  frame.push_back(static_cast<char>(0x81));                   // FIN, text
  frame.push_back(static_cast<char>(0x80 | payload.size()));  // masked, < 126 bytes
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  frame.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(payload[i] ^ mask[i % 4]);
  if (write(fd, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size())) return -1;
  return fd;  // and never read again
}

TEST(SlowSubscriberTest, IsDisconnectedWithoutHurtingOthers) {
  TestNode node("slow-sub");
  ASSERT_TRUE(node.Start({"--bootstrap", "--ws-send-queue-messages=64"}));
  ASSERT_TRUE(node.WaitReady());
  WsClient healthy;
  ASSERT_TRUE(healthy.Connect("127.0.0.1", node.port(), "/stream"));
  ASSERT_TRUE(Call(healthy, 1, "watch/subscribe", "{\"tenant\":\"slow\"}").HasMember("result"));
  int stalled = StalledSubscriber(node.port());
  ASSERT_GE(stalled, 0);
  // Let the stalled subscription register before the writes start.
  ASSERT_TRUE(WaitFor(
      [&] {
        return node.http().Request("GET", "/metrics").body.find("concordance_watch_subscriptions 2") !=
               std::string::npos;
      },
      std::chrono::seconds(5)));
  std::string value(64 * 1024, 'x');
  int writes = 0;
  bool cut = false;
  HttpClient writer("127.0.0.1", node.port());
  while (writes < 400 && !cut) {
    ASSERT_EQ(writer.Request("PUT", "/api/v1/kv/tenant:slow/s/k" + std::to_string(writes % 10),
                             "{\"value\":\"" + value + "\"}").status, 200);
    ++writes;
    cut = node.log().find("closing a connection whose client does not read") != std::string::npos;
  }
  EXPECT_TRUE(WaitFor([&] { return node.log().find("closing a connection whose client does not read") !=
                                   std::string::npos; },
                      std::chrono::seconds(10)))
      << "the stalled subscriber was never cut off after " << writes << " writes";
  // The healthy watcher got every change, in order.
  int64_t last = 0;
  int got = 0;
  while (got < writes) {
    std::optional<std::string> m = healthy.Receive(std::chrono::seconds(10));
    if (!m) break;
    int64_t seq = JsonInt(ParseJson(*m)["params"], "seq");
    EXPECT_GT(seq, last);
    last = seq;
    ++got;
  }
  EXPECT_EQ(got, writes);
  close(stalled);
  node.Stop();
}

}  // namespace
}  // namespace concordance::testing
