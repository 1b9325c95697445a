// TLS on the one port (issue 15): real clients on one TLS port at once
// (curl, Python's ssl with websockets, gRPC's SSL credentials through the
// generated stubs), mutual TLS, a 3-node cluster whose /raft links run over
// TLS, a node with a certificate from another CA that cannot join, an
// expired certificate, and a SIGHUP reload under a running watch. Every
// certificate is made by `openssl` while the test runs.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "proto/concordance/v1/kv.grpc.pb.h"
#include "proto/concordance/v1/watch.grpc.pb.h"
#include "tests/lib/certs.h"
#include "tests/lib/cluster.h"
#include "tests/lib/grpc_client.h"
#include "tests/lib/node.h"

namespace concordance::testing {
namespace {

constexpr char kKey[] = "tls-api-key";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> TlsFlags(const CertFiles& f) {
  return {"--tls-cert-file=" + f.cert, "--tls-key-file=" + f.key};
}

// A gRPC channel over TLS: the server verified against `ca`, and this
// client's certificate presented when given.
std::shared_ptr<grpc::Channel> TlsChannel(int port, const std::string& ca,
                                          const CertFiles* client = nullptr) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadFile(ca);
  if (client) {
    o.pem_cert_chain = ReadFile(client->cert);
    o.pem_private_key = ReadFile(client->key);
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::SslCredentials(o), args);
}

grpc::Status GrpcPut(grpc::Channel* ch, const std::string& ns,
                     const std::string& key, const std::string& value) {
  auto kv = v1::KV::NewStub(
      std::shared_ptr<grpc::Channel>(ch, [](grpc::Channel*) {}));
  v1::PutRequest req;
  req.set_namespace_(ns);
  req.set_key(key);
  req.set_value(value);
  v1::PutResponse res;
  auto ctx = GrpcContext(kKey, "", std::chrono::seconds(5));
  return kv->Put(ctx.get(), req, &res);
}

// curl's exit status and output for one request (curl exits 0 on any
// HTTP status; -w prints it last).
int Curl(const std::vector<std::string>& args, std::string* out) {
  std::string cmd =
      "curl -sS --max-time 5 -w '\\n%{http_code}' -H 'Authorization: Bearer " +
      std::string(kKey) + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  return RunShell(cmd, out);
}

// A Python (Debian's websockets and ssl) watch over wss:// that prints
// "subscribed", then each notification's key, until `count` arrived.
std::string WriteWssWatcher(const std::string& dir) {
  std::string path = dir + "/wss_watch.py";
  std::ofstream(path) << R"(import asyncio, json, ssl, sys
port, ca, ns, key, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
async def main():
    ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect("wss://127.0.0.1:%s/stream" % port, ssl=ctx,
                                  extra_headers={"Authorization": "Bearer " + key}) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "watch/subscribe",
                                  "params": {"namespace": ns}}))
        print("subscribed", json.loads(await ws.recv())["result"]["subscriptionId"], flush=True)
        seen = 0
        while seen < count:
            m = json.loads(await ws.recv())
            if m.get("method") == "watch/change":
                print("change", m["params"]["key"], flush=True)
                seen += 1
import websockets
asyncio.run(main())
)";
  return path;
}

std::map<std::string, std::string> Auth() {
  return {{"Authorization", std::string("Bearer ") + kKey}};
}

bool LogHas(Process& p, const std::string& text) {
  return p.ReadLog().find(text) != std::string::npos;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<TestCa> ca = TestCa::Make("tls-test-ca");
    ASSERT_TRUE(ca);
    ca_ = *ca;
    std::optional<CertFiles> server =
        ca_.Issue("server", "IP:127.0.0.1,DNS:node1");
    ASSERT_TRUE(server);
    server_ = *server;
  }

  // One node serving TLS with `extra` flags; requests from the test go over
  // https:// (with `client` presented, if given).
  bool StartNode(TestNode& n, const std::vector<std::string>& extra,
                 const CertFiles* client = nullptr) {
    TlsClientFiles files{ca_.cert(), client ? client->cert : "",
                         client ? client->key : ""};
    n.UseTls(files);
    std::vector<std::string> flags = {"--bootstrap",
                                      std::string("--api-key=") + kKey};
    for (const std::string& f : TlsFlags(server_)) flags.push_back(f);
    flags.insert(flags.end(), extra.begin(), extra.end());
    return n.Start(flags) && n.WaitReady();
  }

  TestCa ca_;
  CertFiles server_;
};

// curl (HTTPS), Python (wss:// /stream) and gRPC (SSL credentials) on one
// TLS port at the same time: a watch over wss sees writes made over gRPC
// and over HTTPS, and curl reads what gRPC wrote. Cleartext is refused.
TEST_F(TlsTest, OnePortServesHttpsWssAndGrpcAtOnce) {
  TestNode n("tls1");
  ASSERT_TRUE(StartNode(n, {}));

  Process watcher;
  std::string dir = MakeTempDir("wss");
  ASSERT_TRUE(watcher.Start("/usr/bin/python3",
                            {WriteWssWatcher(dir), std::to_string(n.port()),
                             ca_.cert(), "tenant:t/s", kKey, "2"},
                            dir + "/watch.log"));
  ASSERT_TRUE(WaitFor([&] { return LogHas(watcher, "subscribed"); },
                      std::chrono::seconds(20)))
      << watcher.ReadLog();

  auto channel = TlsChannel(n.port(), ca_.cert());
  grpc::Status put =
      GrpcPut(channel.get(), "tenant:t/s", "from-grpc", "{\"over\":\"grpc\"}");
  ASSERT_TRUE(put.ok()) << put.error_message();

  std::string out;
  ASSERT_EQ(Curl({"--cacert", ca_.cert(),
                  "https://127.0.0.1:" + std::to_string(n.port()) +
                      "/api/v1/kv/tenant:t/s/from-grpc"},
                 &out),
            0)
      << out;
  EXPECT_NE(out.find("\"over\":\"grpc\""), std::string::npos) << out;
  EXPECT_EQ(out.substr(out.rfind('\n') + 1), "200") << out;
  ASSERT_EQ(Curl({"--cacert", ca_.cert(), "-X", "PUT", "-d", "{\"value\":1}",
                  "https://127.0.0.1:" + std::to_string(n.port()) +
                      "/api/v1/kv/tenant:t/s/from-curl"},
                 &out),
            0)
      << out;
  EXPECT_EQ(out.substr(out.rfind('\n') + 1), "200") << out;

  EXPECT_EQ(watcher.Wait(std::chrono::seconds(20)), 0) << watcher.ReadLog();
  EXPECT_TRUE(LogHas(watcher, "change from-grpc")) << watcher.ReadLog();
  EXPECT_TRUE(LogHas(watcher, "change from-curl")) << watcher.ReadLog();

  // The framework's own client reads over https:// too.
  HttpResult r =
      n.http().Request("GET", "/api/v1/kv/tenant:t/s/from-curl", "", Auth());
  EXPECT_EQ(r.status, 200) << r.error;

  // Cleartext HTTP on the TLS port gets a clear 400 (in cleartext) and
  // nothing else, and is counted.
  HttpClient plain("127.0.0.1", n.port());
  HttpResult refused =
      plain.Request("GET", "/api/v1/health", "", {}, std::chrono::seconds(3));
  EXPECT_EQ(refused.status, 400) << refused.error;
  EXPECT_NE(refused.body.find("this port speaks TLS only"), std::string::npos)
      << refused.body;
  EXPECT_TRUE(WaitFor(
      [&] {
        return n.Metric("concordance_tls_handshake_failures_total", Auth())
                   .value_or(0) >= 1;
      },
      std::chrono::seconds(5)));
  // A client that does not trust the server's CA refuses it.
  EXPECT_NE(
      Curl({"https://127.0.0.1:" + std::to_string(n.port()) + "/api/v1/health"},
           &out),
      0)
      << out;
}

// --tls-client-ca-file: a client without a certificate, or with one from
// another CA, is refused by HTTPS and gRPC alike; one the CA signed is served.
TEST_F(TlsTest, MutualTlsRefusesAClientWithoutACertificate) {
  std::optional<CertFiles> client = ca_.Issue("client", "DNS:client");
  std::optional<TestCa> other = TestCa::Make("other-ca");
  ASSERT_TRUE(client && other);
  std::optional<CertFiles> stranger = other->Issue("stranger", "DNS:client");
  ASSERT_TRUE(stranger);
  TestNode n("mtls");
  ASSERT_TRUE(StartNode(n, {"--tls-client-ca-file=" + ca_.cert()}, &*client));
  std::string url = "https://127.0.0.1:" + std::to_string(n.port()) +
                    "/api/v1/kv/tenant:m/s/k";

  std::string out;
  EXPECT_NE(Curl({"--cacert", ca_.cert(), url}, &out), 0)
      << "no client certificate: " << out;
  EXPECT_NE(Curl({"--cacert", ca_.cert(), "--cert", stranger->cert, "--key",
                  stranger->key, url},
                 &out),
            0)
      << "a certificate from another CA: " << out;
  ASSERT_EQ(Curl({"--cacert", ca_.cert(), "--cert", client->cert, "--key",
                  client->key, "-X", "PUT", "-d", "{\"value\":\"mtls\"}", url},
                 &out),
            0)
      << out;
  EXPECT_EQ(out.substr(out.rfind('\n') + 1), "200") << out;

  auto anonymous = TlsChannel(n.port(), ca_.cert());
  EXPECT_FALSE(GrpcPut(anonymous.get(), "tenant:m/s", "g", "1").ok());
  auto signed_client = TlsChannel(n.port(), ca_.cert(), &*client);
  grpc::Status ok = GrpcPut(signed_client.get(), "tenant:m/s", "g", "1");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

// An expired certificate is refused at start, with its date; a reload to
// one keeps the certificate being served.
TEST_F(TlsTest, AnExpiredCertificateIsRefused) {
  std::optional<CertFiles> expired =
      ca_.Issue("expired", "IP:127.0.0.1", /*expired=*/true);
  ASSERT_TRUE(expired);
  TestNode n("expired");
  n.UseTls({ca_.cert(), "", ""});
  std::vector<std::string> flags = {"--bootstrap",
                                    std::string("--api-key=") + kKey};
  for (const std::string& f : TlsFlags(*expired)) flags.push_back(f);
  EXPECT_FALSE(n.Start(flags));
  EXPECT_NE(n.log().find("expired on"), std::string::npos) << n.log();
}

// SIGHUP re-reads the certificate: new connections get the new one, while
// a gRPC watch opened before keeps running and sees later writes. A reload
// to a broken pair keeps the current one.
TEST_F(TlsTest, SighupReloadsTheCertificateWhileAWatchKeepsRunning) {
  std::string dir = MakeTempDir("reload");
  CertFiles live{dir + "/server.pem", dir + "/server.key"};
  std::ofstream(live.cert) << ReadFile(server_.cert);
  std::ofstream(live.key) << ReadFile(server_.key);
  server_ = live;
  TestNode n("reload");
  ASSERT_TRUE(StartNode(n, {}));
  std::string first = CertSerial(live.cert);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(ServedCertSerial(n.port(), ca_.cert()), first);

  auto channel = TlsChannel(n.port(), ca_.cert());
  auto stub = v1::Watch::NewStub(channel);
  auto ctx = GrpcContext(kKey, "", std::chrono::seconds(60));
  v1::WatchRequest req;
  req.set_namespace_("tenant:r/s");
  auto stream = stub->Watch(ctx.get(), req);
  v1::WatchResponse r;
  ASSERT_TRUE(stream->Read(&r)) << "the watch's first response";

  std::optional<CertFiles> next = ca_.Issue("server2", "IP:127.0.0.1");
  ASSERT_TRUE(next);
  std::string second = CertSerial(next->cert);
  ASSERT_NE(second, first);
  std::ofstream(live.cert) << ReadFile(next->cert);
  std::ofstream(live.key) << ReadFile(next->key);
  n.Signal(SIGHUP);
  EXPECT_TRUE(
      WaitFor([&] { return ServedCertSerial(n.port(), ca_.cert()) == second; },
              std::chrono::seconds(10)))
      << n.log();
  EXPECT_NE(n.log().find("reloaded the TLS certificate"), std::string::npos)
      << n.log();

  // The watch opened under the old certificate still runs.
  ASSERT_TRUE(GrpcPut(TlsChannel(n.port(), ca_.cert()).get(), "tenant:r/s",
                      "after", "2")
                  .ok());
  ASSERT_TRUE(stream->Read(&r));
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).key(), "after");

  // A key that does not match the certificate: refused, the second stays.
  std::ofstream(live.key) << ReadFile(ca_.dir() + "/ca.key");
  n.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] {
        return n.log().find("TLS files not reloaded") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << n.log();
  EXPECT_EQ(ServedCertSerial(n.port(), ca_.cert()), second);
  ctx->TryCancel();
}

// Three nodes whose /raft links and --join calls run over TLS with mutual
// authentication and node ids in the certificates; a node whose
// certificate comes from another CA cannot join.
TEST_F(TlsTest, AClusterOverTlsAndAWrongCaCannotJoin) {
  std::optional<CertFiles> client = ca_.Issue("operator", "DNS:operator");
  std::optional<TestCa> other = TestCa::Make("rogue-ca");
  ASSERT_TRUE(client && other);
  std::map<std::string, CertFiles> certs;
  for (const char* id : {"node1", "node2", "node3"}) {
    std::optional<CertFiles> c =
        ca_.Issue(id, std::string("IP:127.0.0.1,DNS:") + id);
    ASSERT_TRUE(c);
    certs[id] = *c;
  }
  std::optional<CertFiles> rogue =
      other->Issue("node4", "IP:127.0.0.1,DNS:node4");
  ASSERT_TRUE(rogue);
  certs["node4"] = *rogue;

  TestCluster c(
      {"--tls-client-ca-file=" + ca_.cert(), "--peer-tls-require-node-id"});
  c.set_client_tls({ca_.cert(), client->cert, client->key});
  c.set_per_node_flags(
      [&](const std::string& id, int) { return TlsFlags(certs[id]); });
  ASSERT_TRUE(c.Start(3));
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(c.node(i).log().find("(TLS)"), std::string::npos)
        << c.id(i) << " dialed no peer over TLS";
  }
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  for (int k = 0; k < 20; ++k) {
    HttpResult put =
        c.Request(leader, "PUT", "/api/v1/kv/tenant:c/s/k" + std::to_string(k),
                  "{\"value\":1}");
    ASSERT_EQ(put.status, 200) << put.body << put.error;
  }
  std::string detail;
  EXPECT_TRUE(c.WaitConverged(std::chrono::seconds(20), &detail)) << detail;

  // (The test's own client trusts node4's CA to see it start.)
  c.set_client_tls({other->cert(), client->cert, client->key});
  TestNode* rogue_node = c.AddNode("node4", leader);
  ASSERT_NE(rogue_node, nullptr);
  // Its join call is refused in the TLS handshake (its certificate does not
  // chain to the cluster's CA), again and again.
  EXPECT_TRUE(WaitFor(
      [&] {
        return c.node(leader)
                   .Metric("concordance_tls_handshake_failures_total", c.Auth())
                   .value_or(0) >= 2;
      },
      std::chrono::seconds(20)));
  rapidjson::Document s = c.Status(leader);
  ASSERT_TRUE(s.HasMember("peers"));
  EXPECT_EQ(s["peers"].GetArray().Size(), 3u) << "node4 became a member";
  EXPECT_NE(rogue_node->log().find("not done yet (POST https://"),
            std::string::npos)
      << rogue_node->log();

  // A graceful stop of a node whose links all run over TLS does not wait
  // out its grace for the bridges.
  EXPECT_EQ(c.node(leader).Stop(), 0);
  EXPECT_EQ(c.node(leader).log().find("still open"), std::string::npos)
      << c.node(leader).log();
}

// --peer-tls-require-node-id: a node whose certificate comes from the right
// CA but names another node id is not dialed, so it never catches up and
// never becomes a voter.
TEST_F(TlsTest, APeerWhoseCertificateNamesAnotherNodeIsNotDialed) {
  std::optional<CertFiles> client = ca_.Issue("operator2", "DNS:operator");
  ASSERT_TRUE(client);
  std::map<std::string, CertFiles> certs;
  for (const char* id : {"node1", "node2"}) {
    std::optional<CertFiles> c =
        ca_.Issue(id, std::string("IP:127.0.0.1,DNS:") + id);
    ASSERT_TRUE(c);
    certs[id] = *c;
  }
  std::optional<CertFiles> impostor =
      ca_.Issue("node3", "IP:127.0.0.1,DNS:node9");
  ASSERT_TRUE(impostor);
  certs["node3"] = *impostor;

  TestCluster c(
      {"--peer-tls-ca-file=" + ca_.cert(), "--peer-tls-require-node-id"});
  c.set_client_tls({ca_.cert(), "", ""});
  c.set_per_node_flags(
      [&](const std::string& id, int) { return TlsFlags(certs[id]); });
  ASSERT_TRUE(c.Start(2));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  ASSERT_NE(c.AddNode("node3", leader), nullptr);
  EXPECT_TRUE(WaitFor(
      [&] {
        return c.node(leader).log().find("does not name node id \"node3\"") !=
               std::string::npos;
      },
      std::chrono::seconds(20)))
      << c.node(leader).log();
  rapidjson::Document s = c.Status(leader);
  ASSERT_TRUE(s.HasMember("peers"));
  for (auto& p : s["peers"].GetArray()) {
    if (JsonString(p, "nodeId") == "node3") {
      EXPECT_FALSE(p["voter"].GetBool()) << "node3 was promoted";
      EXPECT_EQ(JsonInt(p, "matchIndex"), 0) << "node3 received the log";
    }
  }
}

}  // namespace
}  // namespace concordance::testing
