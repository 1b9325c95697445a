// Unit tests of the wire layer (no sockets): JSON parsing limits, URLs,
// auth, the REST router and the JSON-RPC dispatcher against a fake backend.
#include <map>

#include "absl/strings/match.h"
#include "gateway/auth.h"
#include "gateway/json.h"
#include "gateway/rest_handler.h"
#include "gateway/rpc_connection.h"
#include "gateway/status_map.h"
#include "gateway/testing/fake_api.h"
#include "gateway/url.h"
#include "gtest/gtest.h"
#include "util/status_payloads.h"

namespace concordance::gateway {
namespace {

using testing::FakeApi;

TEST(JsonTest, RejectsMalformedAndDeepAndBadUtf8) {
  EXPECT_TRUE(ParseJson("{\"a\":[1,2,{\"b\":null}]}").ok());
  EXPECT_FALSE(ParseJson("{\"a\":").ok());
  EXPECT_FALSE(ParseJson("{} trailing").ok());
  EXPECT_FALSE(ParseJson("\"\xff\"").ok());
  EXPECT_FALSE(ParseJson("NaN").ok());
  EXPECT_FALSE(ParseJson("1e999999").ok());
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  absl::Status s = ParseJson(deep).status();
  EXPECT_NE(s.message().find("deeper"), absl::string_view::npos) << s;
  std::string ok_depth(kMaxJsonDepth, '[');
  ok_depth += std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJson(ok_depth).ok());
  // A very deep document is refused without recursion (no stack overflow).
  std::string huge(1 << 20, '[');
  EXPECT_FALSE(ParseJson(huge).ok());
}

TEST(JsonTest, SerializeIsCompact) {
  auto doc = ParseJson("{ \"a\" : [ 1 , \"x\" ] }");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(Serialize(*doc), "{\"a\":[1,\"x\"]}");
}

// Found by jsonrpc_fuzzer: an entry with an empty stored value (no valid
// write makes one; a hostile snapshot image could) was written as
// `"value":,` — not JSON. It is written as null.
TEST(JsonTest, AnEntryWithAnEmptyValueIsStillJson) {
  v1::Entry e;
  e.set_namespace_("tenant:a/b");
  e.set_key("k");
  e.set_version(1);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteEntry(w, e);
  absl::StatusOr<rapidjson::Document> doc = ParseJson(buf.GetString());
  ASSERT_TRUE(doc.ok()) << buf.GetString();
  EXPECT_TRUE((*doc)["value"].IsNull());
}

TEST(UrlTest, DecodeAndQuery) {
  EXPECT_EQ(*PercentDecode("a%2Fb%20c+d"), "a/b c+d");
  EXPECT_FALSE(PercentDecode("%2").ok());
  EXPECT_FALSE(PercentDecode("%zz").ok());
  auto q = ParseQuery("tenant=acme&since=5&x=%26");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->at("tenant"), "acme");
  EXPECT_EQ(q->at("x"), "&");
  EXPECT_EQ(PercentEncode("a/b c"), "a%2Fb%20c");
  // What a peer dials with round-trips through its /raft query.
  auto peer = ParseQuery("nodeId=" + PercentEncode("node 1&x") + "&address=" +
                         PercentEncode("127.0.0.1:4101"));
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->at("nodeId"), "node 1&x");
  EXPECT_EQ(peer->at("address"), "127.0.0.1:4101");
}

TEST(UrlTest, SplitHostPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:4100", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 4100);
  ASSERT_TRUE(SplitHostPort("[::1]:80", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 80);
  for (const char* bad : {"nohost", ":4100", "h:", "h:65536", "h:-1", "h:12x"}) {
    EXPECT_FALSE(SplitHostPort(bad, &host, &port).ok()) << bad;
  }
}

// Client-chosen actor names: the key's role when absent, else 1-256 bytes
// of UTF-8.
TEST(AuthTest, ResolveActor) {
  EXPECT_EQ(*ResolveActor(std::nullopt, Access::kWrite), "api");
  EXPECT_EQ(*ResolveActor(std::nullopt, Access::kRead), "agent");
  EXPECT_EQ(*ResolveActor(std::string("user:u1"), Access::kRead), "user:u1");
  EXPECT_TRUE(ResolveActor(std::string(256, 'a'), Access::kWrite).ok());
  for (const std::string& bad : {std::string(), std::string(257, 'a'), std::string("\xc3")}) {
    EXPECT_EQ(ResolveActor(bad, Access::kWrite).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(AuthTest, KeysAndRoles) {
  Authenticator auth(Keys{"api-secret", "agent-secret", ""});
  EXPECT_FALSE(auth.open());
  EXPECT_EQ(auth.Authenticate("Bearer api-secret"), Access::kWrite);
  EXPECT_EQ(auth.Authenticate("bearer agent-secret"), Access::kRead);
  EXPECT_EQ(auth.Authenticate("Bearer nope"), Access::kNone);
  EXPECT_EQ(auth.Authenticate(""), Access::kNone);
  EXPECT_EQ(auth.Authenticate("api-secret"), Access::kNone);  // no scheme
  EXPECT_EQ(auth.Check("Bearer agent-secret", Access::kWrite).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth.Check("", Access::kRead).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(auth.IsPeer("Bearer api-secret"));  // peer key defaults to the API key
  EXPECT_FALSE(auth.IsPeer("Bearer agent-secret"));
  Authenticator open(Keys{});
  EXPECT_TRUE(open.open());
  EXPECT_EQ(open.Authenticate(""), Access::kWrite);
}

TEST(StatusMapTest, Table) {
  EXPECT_EQ(ToWire(absl::InvalidArgumentError("")).http_status, 400);
  EXPECT_EQ(ToWire(absl::AbortedError("")).rpc_code, kRpcVersionConflict);
  EXPECT_EQ(ToWire(absl::FailedPreconditionError("")).http_status, 400);
  EXPECT_EQ(ToWire(absl::OutOfRangeError("")).http_status, 410);
  EXPECT_EQ(ToWire(absl::ResourceExhaustedError("")).http_status, 413);
  absl::Status nl = absl::UnavailableError("not leader");
  nl.SetPayload(kLeaderIdPayload, absl::Cord("n2"));
  EXPECT_EQ(ToWire(nl).http_status, 307);
  EXPECT_EQ(ToWire(nl).rpc_code, kRpcNotLeader);
  EXPECT_EQ(ToWire(absl::UnavailableError("")).http_status, 503);
}

class RestTest : public ::testing::Test {
 protected:
  RestTest() : auth_(Keys{"api", "agent", ""}), rest_(backend_.api(), &auth_, {}, &metrics_) {}
  HttpResponse Call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& key = "api") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    if (!key.empty()) r.authorization = "Bearer " + key;
    HttpResponse out;
    bool called = false;
    rest_.Handle(r, [&](HttpResponse resp) {
      out = std::move(resp);
      called = true;
    });
    EXPECT_TRUE(called);
    return out;
  }
  FakeApi backend_;
  Authenticator auth_;
  metrics::Registry metrics_;
  RestHandler rest_;
};

TEST_F(RestTest, PutThenGetRoundTrip) {
  HttpResponse put = Call("PUT", "/api/v1/kv/tenant:acme/user:u1/preferences/theme",
                          "{\"value\": {\"mode\" : \"dark\"}}");
  EXPECT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.body, "{\"version\":1,\"seq\":42,\"updatedAt\":1000,\"expiresAt\":null}");
  EXPECT_EQ(backend_.calls.back(),
            "set tenant:acme/user:u1/preferences theme {\"mode\":\"dark\"} by api");
  HttpResponse get = Call("GET", "/api/v1/kv/tenant:acme/user:u1/preferences/theme", "", "agent");
  EXPECT_EQ(get.status, 200);
  EXPECT_NE(get.body.find("\"value\":{\"mode\":\"dark\"}"), std::string::npos) << get.body;
  EXPECT_NE(get.body.find("\"expiresAt\":null"), std::string::npos);
}

TEST_F(RestTest, KeyWithEncodedSlashAndListWithTrailingSlash) {
  Call("GET", "/api/v1/kv/tenant:acme/settings/a%2Fb");
  EXPECT_EQ(backend_.calls.back(), "get tenant:acme/settings a/b");
  Call("GET", "/api/v1/kv/tenant:acme/settings/?prefix=fe");
  EXPECT_EQ(backend_.calls.back(), "list tenant:acme/settings prefix=fe");
  Call("GET", "/api/v1/kv/tenant:acme/settings/x?consistency=linearizable");
  EXPECT_EQ(backend_.calls.back(), "get tenant:acme/settings x lin");
  EXPECT_EQ(Call("GET", "/api/v1/kv/tenant:acme/settings/x?consistency=weird").status, 400);
}

TEST_F(RestTest, AuthMatrix) {
  EXPECT_EQ(Call("GET", "/api/v1/kv/tenant:a/s/k", "", "").status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/kv/tenant:a/s/k", "", "wrong").status, 401);
  EXPECT_EQ(Call("PUT", "/api/v1/kv/tenant:a/s/k", "{\"value\":1}", "agent").status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/kv/tenant:a/s/k", "", "agent").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/batch", "{\"ops\":[]}", "agent").status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/snapshot", "", "agent").status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/health", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/ready", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/cluster/status", "", "agent").status, 200);
  EXPECT_EQ(Call("GET", "/metrics", "", "").status, 401);
  EXPECT_EQ(Call("GET", "/metrics", "", "agent").status, 200);
}

TEST_F(RestTest, BadInputGetsClearErrors) {
  auto expect = [&](const HttpResponse& r, int status, const char* code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.body.find(std::string("\"code\":\"") + code + "\""), std::string::npos) << r.body;
  };
  expect(Call("PUT", "/api/v1/kv/tenant:a/s/k", "{\"value\":"), 400, "invalid_argument");
  expect(Call("PUT", "/api/v1/kv/tenant:a/s/k", "[1,2]"), 400, "invalid_argument");
  expect(Call("PUT", "/api/v1/kv/tenant:a/s/k", "{\"value\":1,\"expectedVersion\":\"1\"}"), 400,
         "invalid_argument");
  expect(Call("PUT", "/api/v1/kv/tenant:a/s/k", "{\"value\":1,\"ttlMs\":1.5}"), 400,
         "invalid_argument");
  expect(Call("PUT", "/api/v1/kv/tenant:a/s/k", ""), 400, "invalid_argument");
  expect(Call("GET", "/api/v1/nothing"), 404, "not_found");
  expect(Call("GET", "/api/v1/kv/justone"), 400, "invalid_argument");
  expect(Call("GET", "/api/v1/changes?tenant=a&since=x"), 400, "invalid_argument");
  expect(Call("GET", "/api/v1/changes?tenant=a&limit=x"), 400, "invalid_argument");
  expect(Call("POST", "/api/v1/batch", "{\"ops\":[{\"op\":\"frob\",\"namespace\":\"n\",\"key\":\"k\"}]}"),
         400, "invalid_argument");
  HttpResponse r = Call("POST", "/api/v1/kv/tenant:a/s/k", "{}");
  EXPECT_EQ(r.status, 405);
  // Over the body limit: 413 before anything reaches the backend.
  size_t calls = backend_.calls.size();
  std::string big = "{\"value\":\"" + std::string(storage::Limits().max_body_bytes, 'x') + "\"}";
  expect(Call("PUT", "/api/v1/kv/tenant:a/s/k", big), 413, "too_large");
  EXPECT_EQ(backend_.calls.size(), calls);
}

TEST_F(RestTest, TranslatesIntoTheV1Messages) {
  ASSERT_EQ(Call("PUT", "/api/v1/kv/tenant:a/s/k",
                 "{\"value\": [1, 2],\"expectedVersion\":0,\"ttlMs\":500}")
                .status,
            200);
  EXPECT_EQ(backend_.last_put.value(), "[1,2]");
  EXPECT_TRUE(backend_.last_put.has_expected_version());
  EXPECT_EQ(backend_.last_put.expected_version(), 0);
  EXPECT_EQ(backend_.last_put.ttl_ms(), 500);
  EXPECT_FALSE(backend_.last_put.has_expires_at());
  ASSERT_EQ(Call("PUT", "/api/v1/kv/tenant:a/s/k", "{\"val\":1}").status, 200);  // the API says
  EXPECT_EQ(backend_.last_put.value(), "");  // "value is required"
  ASSERT_EQ(Call("GET", "/api/v1/changes?tenant=a&since=5&limit=7&wait=100").status, 200);
  EXPECT_EQ(backend_.last_changes.tenant(), "a");
  EXPECT_EQ(backend_.last_changes.since(), 5);
  EXPECT_EQ(backend_.last_changes.limit(), 7);
  EXPECT_EQ(backend_.last_changes.wait_ms(), 100);
  ASSERT_EQ(Call("GET", "/api/v1/changes?tenant=a&namespace=tenant:a/s").status, 200);
  EXPECT_EQ(backend_.last_changes.target_case(), v1::ChangesRequest::TARGET_NOT_SET);
}

TEST_F(RestTest, ConflictAndNotLeaderCarryDetails) {
  absl::Status conflict = absl::AbortedError("version conflict");
  conflict.SetPayload(kCurrentVersionPayload, absl::Cord("3"));
  backend_.next_error = conflict;
  HttpResponse r = Call("PUT", "/api/v1/kv/tenant:a/s/k", "{\"value\":1,\"expectedVersion\":2}");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("\"currentVersion\":3"), std::string::npos) << r.body;
  absl::Status nl = absl::UnavailableError("not the leader");
  nl.SetPayload(kLeaderIdPayload, absl::Cord("n2"));
  nl.SetPayload(kLeaderAddressPayload, absl::Cord("127.0.0.1:4102"));
  backend_.next_error = nl;
  r = Call("PUT", "/api/v1/kv/tenant:a/s/k?x=1", "{\"value\":1}");
  EXPECT_EQ(r.status, 307);
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].second, "http://127.0.0.1:4102/api/v1/kv/tenant:a/s/k?x=1");
  EXPECT_NE(r.body.find("\"code\":\"not_leader\""), std::string::npos);
  EXPECT_NE(r.body.find("\"nodeId\":\"n2\""), std::string::npos);
}

TEST_F(RestTest, ReadyReflectsBackend) {
  backend_.ready = false;
  HttpResponse r = Call("GET", "/api/v1/ready", "", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("no leader"), std::string::npos);
}

TEST_F(RestTest, RecordsMetricsByRoute) {
  Call("GET", "/api/v1/kv/tenant:a/s/k");
  std::string text = metrics_.Render();
  EXPECT_NE(text.find("concordance_http_requests_total{route=\"kv_get\",method=\"GET\",code=\"404\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("tenant:a"), std::string::npos) << "tenant data leaked into labels";
}

class RpcTest : public ::testing::Test {
 protected:
  void Open(Access access) {
    RpcConnection::Hooks hooks;
    hooks.send = [this](std::string s) { sent.push_back(std::move(s)); };
    conn = std::make_shared<RpcConnection>(backend.api(), Caller{access, true, "api"},
                                           RpcConnection::Options(), hooks, nullptr);
  }
  FakeApi backend;
  std::shared_ptr<RpcConnection> conn;
  std::vector<std::string> sent;
};

TEST_F(RpcTest, StandardErrors) {
  Open(Access::kWrite);
  conn->OnText("{nope");
  EXPECT_NE(sent.back().find("-32700"), std::string::npos);
  conn->OnText("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"kv/get\"}");
  EXPECT_NE(sent.back().find("-32600"), std::string::npos);
  conn->OnText("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"kv/frob\"}");
  EXPECT_NE(sent.back().find("-32601"), std::string::npos);
  EXPECT_NE(sent.back().find("\"id\":2"), std::string::npos);
  conn->OnText("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"KV/GET\"}");  // case-sensitive
  EXPECT_NE(sent.back().find("-32601"), std::string::npos);
  conn->OnText("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"kv/get\",\"params\":{\"namespace\":7}}");
  EXPECT_NE(sent.back().find("-32602"), std::string::npos);
  conn->OnText("[]");
  EXPECT_NE(sent.back().find("-32600"), std::string::npos);
  conn->OnBinary();
  EXPECT_NE(sent.back().find("binary frames"), std::string::npos);
}

TEST_F(RpcTest, SetGetNotificationAndBatch) {
  Open(Access::kWrite);
  conn->OnText(
      "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"kv/set\",\"params\":{\"namespace\":\"tenant:t/s\","
      "\"key\":\"k\",\"value\":[1]}}");
  EXPECT_EQ(sent.back(),
            "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{\"version\":1,\"seq\":42,\"updatedAt\":1000,"
            "\"expiresAt\":null}}");
  size_t n = sent.size();
  conn->OnText(
      "{\"jsonrpc\":\"2.0\",\"method\":\"kv/set\",\"params\":{\"namespace\":\"tenant:t/s\",\"key\":\"n\","
      "\"value\":2}}");
  EXPECT_EQ(sent.size(), n) << "a notification gets no response";
  EXPECT_EQ(backend.calls.back(), "set tenant:t/s n 2 by api");
  conn->OnText(
      "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"kv/get\",\"params\":{\"namespace\":\"tenant:t/s\","
      "\"key\":\"k\"}},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}]");
  EXPECT_EQ(sent.back().front(), '[');
  EXPECT_NE(sent.back().find("\"id\":1,\"result\""), std::string::npos) << sent.back();
  EXPECT_NE(sent.back().find("-32601"), std::string::npos);
}

TEST_F(RpcTest, AgentCannotWrite) {
  Open(Access::kRead);
  conn->OnText(
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"kv/set\",\"params\":{\"namespace\":\"tenant:t/s\","
      "\"key\":\"k\",\"value\":1}}");
  EXPECT_NE(sent.back().find("-32003"), std::string::npos) << sent.back();
}

TEST_F(RpcTest, SubscribeDeliversChangeNotificationsAndUnsubscribesOnClose) {
  Open(Access::kRead);
  conn->OnText("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"watch/subscribe\",\"params\":{\"tenant\":\"acme\"}}");
  EXPECT_NE(sent.back().find("\"subscriptionId\":\"s1\""), std::string::npos) << sent.back();
  auto c = std::make_shared<v1::ChangeEvent>();
  c->set_seq(42);
  c->set_op("set");
  c->set_namespace_("tenant:acme/user:u1/preferences");
  c->set_key("theme");
  c->set_value("\"dark\"");
  c->set_version(3);
  c->set_actor("user:u1");
  c->set_timestamp(1710700000000);
  c->set_tenant_id("acme");
  backend.sink_->OnChange("s1", c);
  EXPECT_EQ(sent.back(),
            "{\"jsonrpc\":\"2.0\",\"method\":\"watch/change\",\"params\":{\"subscriptionId\":\"s1\","
            "\"seq\":42,\"op\":\"set\",\"namespace\":\"tenant:acme/user:u1/preferences\",\"key\":"
            "\"theme\",\"value\":\"dark\",\"version\":3,\"actor\":\"user:u1\",\"timestamp\":"
            "1710700000000,\"tenantId\":\"acme\"}}");
  conn->Closed();
  EXPECT_EQ(backend.calls.back(), "unsubscribe s1");
}

}  // namespace
}  // namespace concordance::gateway
