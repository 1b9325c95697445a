// Bounded resources (issue 10, items 4, 5, 14, 15, 16): what one client or
// peer can make a node hold or do — memory for a replay, connection slots
// and waiters for abandoned long-polls, the Raft loop's inbox, fan-out and
// backups on the Raft loop — stays bounded, whatever it sends.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "tests/lib/node.h"
#include "tests/lib/raft_peer.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

double MetricOr(TestNode& node, const std::string& series, double fallback = -1) {
  return node.Metric(series).value_or(fallback);
}

// Item 4: 32 replays from seq 0 in one JSON-RPC batch are paced by the
// connection's send queue: memory stays within the queue's cap, and every
// subscription still gets every change, in order.
TEST(ResourcesTest, ReplaysArePacedByTheSendQueue) {
  constexpr size_t kCap = 8 << 20;
  TestNode node("replay-memory");
  ASSERT_TRUE(node.Start({"--bootstrap", "--ws-send-queue-bytes=" + std::to_string(kCap)}));
  ASSERT_TRUE(node.WaitReady());
  const std::string value = "{\"value\":\"" + std::string(32 << 10, 'r') + "\"}";
  constexpr int kChanges = 256;  // an 8 MiB changelog
  for (int i = 0; i < kChanges; ++i) {
    ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:rp/s/k" + std::to_string(i), value).status, 200);
  }
  int64_t baseline = node.RssBytes();
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream"));
  std::string batch = "[";
  constexpr int kSubs = 32;
  for (int i = 0; i < kSubs; ++i) {
    batch += std::string(i ? "," : "") + "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
             ",\"method\":\"watch/subscribe\",\"params\":{\"tenant\":\"rp\",\"fromSeq\":0}}";
  }
  ASSERT_TRUE(ws.SendText(batch + "]"));
  // The client reads nothing for two seconds: the node must not buffer
  // 32 copies of the changelog meanwhile.
  int64_t peak = baseline;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until) {
    peak = std::max(peak, node.RssBytes());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // sampling interval
  }
  printf("replay of %d x %d changes: RSS %lld -> peak %lld MiB\n", kSubs, kChanges,
         static_cast<long long>(baseline >> 20), static_cast<long long>(peak >> 20));
  EXPECT_LT(peak - baseline, static_cast<int64_t>(kCap + (32 << 20)));
  std::map<std::string, int64_t> last;  // subscription -> last seq
  int results = 0, notifications = 0;
  while (notifications < kSubs * kChanges) {
    std::optional<std::string> m = ws.Receive(std::chrono::seconds(10));
    ASSERT_TRUE(m.has_value()) << notifications << " notifications, " << results << " results";
    auto d = ParseJson(*m);
    if (d.IsArray()) {
      results += d.Size();
      continue;
    }
    ASSERT_EQ(JsonString(d, "method"), "watch/change") << m->substr(0, 200);
    std::string sub = JsonString(d["params"], "subscriptionId");
    int64_t seq = JsonInt(d["params"], "seq");
    ASSERT_EQ(seq, last[sub] + 1) << "gap or duplicate on " << sub;
    last[sub] = seq;
    ++notifications;
  }
  EXPECT_EQ(results, kSubs);
  EXPECT_EQ(last.size(), static_cast<size_t>(kSubs));
  ws.Close();
  node.Stop();
}

// Item 5: a long-poll whose client closes releases its connection slot and
// its waiter at once, not when its wait ends.
TEST(ResourcesTest, AbandonedLongPollsAreReleasedAtOnce) {
  TestNode node("abandoned");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  constexpr int kPolls = 200;
  std::vector<int> fds;
  for (int i = 0; i < kPolls; ++i) {
    int fd = TcpConnect(node.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "GET /api/v1/changes?tenant=lp&since=0&wait=60000 HTTP/1.1\r\nHost: x\r\n\r\n"));
    fds.push_back(fd);
  }
  ASSERT_TRUE(WaitFor([&] { return MetricOr(node, "concordance_changes_long_polls_waiting") == kPolls; },
                      std::chrono::seconds(10)));
  for (int fd : fds) close(fd);
  EXPECT_TRUE(WaitFor(
      [&] {
        return MetricOr(node, "concordance_changes_long_polls_waiting") == 0 &&
               MetricOr(node, "concordance_http_connections") <= 1;  // this scrape's
      },
      std::chrono::seconds(5)))
      << MetricOr(node, "concordance_changes_long_polls_waiting") << " still waiting, "
      << MetricOr(node, "concordance_http_connections") << " connections";
  EXPECT_EQ(MetricOr(node, "concordance_changes_long_polls_abandoned_total"), kPolls);
  // A poll that stays still gets its change.
  int fd = TcpConnect(node.port());
  ASSERT_TRUE(SendAll(fd, "GET /api/v1/changes?tenant=lp&since=0&wait=10000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] { return MetricOr(node, "concordance_changes_long_polls_waiting") == 1; },
                      std::chrono::seconds(5)));
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:lp/s/k", "{\"value\":1}").status, 200);
  std::string head = ReadHead(fd, std::chrono::seconds(5));
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  close(fd);
  node.Stop();
}

// Found in review: an answered long-poll must free its state (and the
// connection that asked), not keep it for its whole wait or forever.
TEST(ResourcesTest, AnsweredLongPollsAreFreed) {
  TestNode node("poll-free");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:pf/s/k", "{\"value\":1}").status, 200);
  auto polls = [&](int n) {
    for (int i = 0; i < n; ++i) {  // each answered at once: there is a change after since=0
      int fd = TcpConnect(node.port());
      ASSERT_TRUE(SendAll(fd, "GET /api/v1/changes?tenant=pf&since=0&wait=60000 HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n"));
      ASSERT_EQ(ReadHead(fd, std::chrono::seconds(5)).rfind("HTTP/1.1 200", 0), 0u);
      close(fd);
    }
  };
  polls(1000);  // warm up the allocator
  int64_t before = node.RssBytes();
  polls(8000);
  int64_t after = node.RssBytes();
  printf("8,000 answered long-polls: RSS %lld -> %lld MiB\n", static_cast<long long>(before >> 20),
         static_cast<long long>(after >> 20));
  EXPECT_LT(after - before, 32 << 20) << "answered long-polls are kept alive";
  node.Stop();
}

// Item 5: a write wakes only the long-polls it matches: a poll on one
// namespace sleeps through writes to another namespace of its tenant.
TEST(ResourcesTest, LongPollsWakeOnlyForTheirOwnNamespace) {
  TestNode node("poll-match");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  int fd = TcpConnect(node.port());
  ASSERT_TRUE(SendAll(fd, "GET /api/v1/changes?namespace=tenant:pm/a&since=0&wait=30000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] { return MetricOr(node, "concordance_changes_long_polls_waiting") == 1; },
                      std::chrono::seconds(5)));
  double queries = MetricOr(node, "concordance_changes_long_poll_queries_total");
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:pm/b/k", "{\"value\":1}").status, 200);
  }
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:pm/a/k", "{\"value\":1}").status, 200);
  std::string head = ReadHead(fd, std::chrono::seconds(5));
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_EQ(MetricOr(node, "concordance_changes_long_poll_queries_total"), queries + 1)
      << "writes to another namespace woke the poll";
  close(fd);
  node.Stop();
}

// Item 5: /raft has connection slots of its own that clients cannot take.
TEST(ResourcesTest, PeersHaveConnectionSlotsClientsCannotTake) {
  TestNode node("peer-slots");
  ASSERT_TRUE(node.Start({"--bootstrap", "--api-key=slots-key", "--max-connections=8"}));
  ASSERT_TRUE(node.WaitReady());
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 7; ++i) {  // with node.http(), all 8 client slots
    clients.push_back(std::make_unique<HttpClient>("127.0.0.1", node.port()));
    ASSERT_EQ(clients.back()->Request("GET", "/api/v1/health").status, 200);
  }
  ASSERT_EQ(node.http().Request("GET", "/api/v1/health").status, 200);
  HttpClient extra("127.0.0.1", node.port());
  HttpResult refused = extra.Request("GET", "/api/v1/health");
  EXPECT_EQ(refused.status, 503) << refused.body;
  RaftPeer peer;
  std::string error;
  EXPECT_TRUE(peer.Connect(node.port(), "peer2", "slots-key", &error)) << error;
  clients.clear();
  EXPECT_TRUE(WaitFor([&] { return extra.Request("GET", "/api/v1/health").status == 200; },
                      std::chrono::seconds(5)));
  node.Stop();
}

// Item 14: a peer that sends faster than the Raft loop steps is paused
// (its connection is not read) instead of queueing without bound, and
// nothing it sent is lost.
TEST(ResourcesTest, ARaftFloodIsPausedNotQueued) {
  TestNode node("raft-flood");
  ASSERT_TRUE(node.Start({"--bootstrap", "--api-key=flood-key", "--raft-inbox-messages=8"}));
  ASSERT_TRUE(node.WaitReady());
  std::map<std::string, std::string> auth = {{"Authorization", "Bearer flood-key"}};
  double received = node.Metric("concordance_peer_messages_received_total", auth).value_or(0);
  constexpr int kPeers = 4, kEach = 5000;
  std::vector<std::thread> floods;
  std::atomic<int> sent{0};
  for (int p = 0; p < kPeers; ++p) {
    floods.emplace_back([&, p] {
      RaftPeer peer;
      std::string id = "flood" + std::to_string(p);
      if (!peer.Connect(node.port(), id, "flood-key")) return;
      // Stale-term heartbeats: well formed, stepped and answered, harmless.
      std::string m = "{\"from\":\"" + id + "\",\"to\":\"node1\",\"term\":1,\"type\":\"app\","
                      "\"prevLogIndex\":0,\"prevLogTerm\":0,\"leaderCommit\":0,\"heartbeat\":true,"
                      "\"entries\":[]}";
      for (int i = 0; i < kEach && peer.SendText(m); ++i) sent.fetch_add(1);
      // Wait for the node to read everything before closing.
      WaitFor([&] { return node.Metric("concordance_peer_messages_received_total", auth).value_or(0) >=
                           received + kPeers * kEach; },
              std::chrono::seconds(30));
    });
  }
  for (auto& t : floods) t.join();
  EXPECT_EQ(sent.load(), kPeers * kEach);
  EXPECT_GE(node.Metric("concordance_peer_messages_received_total", auth).value_or(0), received + kPeers * kEach);
  EXPECT_GT(node.Metric("concordance_raft_inbox_full_total", auth).value_or(0), 0);
  EXPECT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:fl/s/k", "{\"value\":1}", auth).status, 200);
  node.Stop();
}

// Item 15: fan-out to watchers (encoding, decrypting credentials) runs off
// the Raft loop: a write is acknowledged while its notifications are still
// being prepared, instead of after all of them.
TEST(ResourcesTest, FanOutDoesNotHoldUpTheWrite) {
  TestNode node("fan-out");
  std::string keys = MakeTempDir("enc") + "/keys";
  std::ofstream(keys) << "k1:" << std::string(64, 'c') << "\n";
  ASSERT_TRUE(node.Start({"--bootstrap", "--encryption-key-file=" + keys}));
  ASSERT_TRUE(node.WaitReady());
  constexpr int kConnections = 2, kSubsEach = 250;
  std::vector<std::unique_ptr<WsClient>> watchers;
  for (int c = 0; c < kConnections; ++c) {
    watchers.push_back(std::make_unique<WsClient>());
    ASSERT_TRUE(watchers.back()->Connect("127.0.0.1", node.port(), "/stream"));
    for (int i = 0; i < kSubsEach; ++i) {
      auto r = Call(*watchers.back(), i + 1, "watch/subscribe", "{\"tenant\":\"fo\"}");
      ASSERT_TRUE(r.HasMember("result"));
    }
  }
  ASSERT_TRUE(WaitFor([&] { return MetricOr(node, "concordance_watch_subscriptions") == kConnections * kSubsEach; },
                      std::chrono::seconds(5)));
  double delivered = MetricOr(node, "concordance_watch_changes_delivered_total", 0);
  std::string value = "{\"value\":\"" + std::string((1 << 20) - 64, 's') + "\"}";
  ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:fo/credentials/big", value).status, 200);
  double at_ack = MetricOr(node, "concordance_watch_changes_delivered_total", 0) - delivered;
  EXPECT_LT(at_ack, kConnections * kSubsEach)
      << "every notification was prepared before the write was acknowledged";
  EXPECT_TRUE(WaitFor([&] { return MetricOr(node, "concordance_watch_changes_delivered_total", 0) - delivered ==
                                   kConnections * kSubsEach; },
                      std::chrono::seconds(60)));
  watchers.clear();
  node.Stop();
}

// Item 16: a backup is serialized off the Raft loop: a write made while a
// large backup is being prepared is acknowledged before the backup starts
// to arrive.
TEST(ResourcesTest, ABackupDoesNotBlockWrites) {
  TestNode node("backup");
  ASSERT_TRUE(node.Start({"--bootstrap"}));
  ASSERT_TRUE(node.WaitReady());
  std::string value = "{\"value\":\"" + std::string((1 << 20) - 64, 'b') + "\"}";
  for (int i = 0; i < 100; ++i) {  // about 200 MiB of state (values and changelog)
    ASSERT_EQ(node.http().Request("PUT", "/api/v1/kv/tenant:bk/s/k" + std::to_string(i), value).status, 200);
  }
  int fd = TcpConnect(node.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /api/v1/snapshot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::atomic<bool> acked{false};
  std::atomic<bool> backup_first{false};
  std::thread writer([&] {
    HttpClient w("127.0.0.1", node.port());
    HttpResult r = w.Request("PUT", "/api/v1/kv/tenant:bk/s/during", "{\"value\":1}");
    acked = r.status == 200;
  });
  // Whatever arrives first decides.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!acked.load() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1) > 0) {
      backup_first = !acked.load();
      break;
    }
  }
  writer.join();
  EXPECT_TRUE(acked.load());
  EXPECT_FALSE(backup_first.load()) << "the write waited for the backup to be serialized";
  std::string head = ReadHead(fd, std::chrono::seconds(30));
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head.substr(0, 200);
  close(fd);
  node.Stop();
}

// Found while fixing item 14: a /stream connection with every request slot
// waiting (and nothing to write) stops reading — and must stay open, to
// answer them all, rather than be dropped.
TEST(ResourcesTest, AStreamWithEveryRequestSlotWaitingStaysOpen) {
  TestNode node("stream-paused");
  ASSERT_TRUE(node.Start({"--bootstrap", "--min-seq-timeout-ms=1000"}));
  ASSERT_TRUE(node.WaitReady());
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node.port(), "/stream"));
  constexpr int kRequests = 80;  // more than the 64 a connection may have in flight
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(ws.SendText("{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
                            ",\"method\":\"kv/get\",\"params\":{\"namespace\":\"tenant:p/s\","
                            "\"key\":\"k\",\"minSeq\":1000000000}}"));
  }
  int answered = 0;
  while (answered < kRequests) {
    std::optional<std::string> m = ws.Receive(std::chrono::seconds(10));
    ASSERT_TRUE(m.has_value()) << answered << " answered; closed: " << ws.closed();
    EXPECT_EQ(RpcErrorCode(ParseJson(*m)), -32005) << *m;
    ++answered;
  }
  ws.Close();
  node.Stop();
}

}  // namespace
}  // namespace concordance::testing
