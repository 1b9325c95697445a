// gRPC against a real 3-node cluster: a follower refuses a write with the
// leader's id and address in the trailers; membership and leadership
// through the Cluster service; and tools/client following the leader,
// failing over and resuming a watch on another node without a gap or a
// duplicate when the node under it dies.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proto/concordance/v1/cluster.grpc.pb.h"
#include "proto/concordance/v1/kv.grpc.pb.h"
#include "proto/concordance/v1/watch.grpc.pb.h"
#include "tests/lib/cluster.h"
#include "tests/lib/grpc_client.h"
#include "tools/client/client.h"

namespace concordance::testing {
namespace {

v1::PutRequest PutOf(const std::string& ns, const std::string& key,
                     const std::string& value) {
  v1::PutRequest req;
  req.set_namespace_(ns);
  req.set_key(key);
  req.set_value(value);
  return req;
}

client::Options ClientOptions(std::vector<std::string> endpoints) {
  client::Options o;
  o.endpoints = std::move(endpoints);
  o.key = TestCluster::kApiKey;
  o.attempt_timeout = std::chrono::seconds(3);
  o.retry_for = std::chrono::seconds(15);
  return o;
}

TEST(GrpcClusterTest, AWriteToAFollowerNamesTheLeader) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % 3;
  auto kv = v1::KV::NewStub(GrpcChannel(c.node(follower).port()));
  v1::PutResponse resp;
  auto ctx = GrpcContext(TestCluster::kApiKey);
  grpc::Status s = kv->Put(ctx.get(), PutOf("tenant:gc/s", "k", "1"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Trailer(*ctx, "concordance-error-code"), "not_leader");
  EXPECT_EQ(Trailer(*ctx, "concordance-leader-id"), c.id(leader));
  EXPECT_EQ(Trailer(*ctx, "concordance-leader-address"),
            c.node(leader).address());
  // Nothing was written.
  auto get_ctx = GrpcContext(TestCluster::kApiKey);
  v1::GetRequest get;
  get.set_namespace_("tenant:gc/s");
  get.set_key("k");
  get.set_consistency(v1::LINEARIZABLE);
  v1::Entry e;
  EXPECT_EQ(kv->Get(get_ctx.get(), get, &e).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // The client library, pointed at the follower only, follows the trailer.
  client::Client cl(ClientOptions({c.node(follower).address()}));
  auto put = cl.Put(PutOf("tenant:gc/s", "k", "2"));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->version(), 1);
  EXPECT_EQ(cl.preferred_endpoint(), c.node(leader).address());
  auto got = cl.Get(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), "2");
}

TEST(GrpcClusterTest, JoinRemoveAndTransferThroughTheClusterService) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % 3;
  client::Client cl(ClientOptions({c.node(follower).address()}));

  // A learner at an address nothing listens on: added, shown, removed.
  v1::JoinRequest join;
  join.set_node_id("g-learner");
  join.set_address("127.0.0.1:9");
  auto joined = cl.Join(join);
  ASSERT_TRUE(joined.ok()) << joined.status();
  ASSERT_EQ(joined->peers_size(), 4);
  bool learner_seen = false;
  for (const v1::Peer& p : joined->peers()) {
    if (p.node_id() == "g-learner") learner_seen = !p.voter();
  }
  EXPECT_TRUE(learner_seen) << "a joining node starts as a learner";
  v1::RemoveRequest remove;
  remove.set_node_id("g-learner");
  auto removed = cl.Remove(remove);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->peers_size(), 3)
      << "the answer shows the membership after the change";

  // Hand leadership to a chosen follower; the status then names it.
  v1::TransferLeadershipRequest transfer;
  transfer.set_node_id(c.id(follower));
  auto moved = cl.TransferLeadership(transfer);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(c.WaitLeader(), follower);
  auto st = cl.Status(c.node(follower).address());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->role(), "leader");
  EXPECT_EQ(st->leader().node_id(), c.id(follower));
}

// A watcher on one node and a writer on another; the watcher's node is
// killed midway. The client resumes the watch elsewhere from the last seq
// it delivered: every acknowledged write's seq arrives once, in order.
TEST(GrpcClusterTest, AWatchResumesOnAnotherNodeWhenItsNodeDies) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int doomed = (leader + 1) % 3;
  int other = (leader + 2) % 3;
  client::Client watcher_client(
      ClientOptions({c.node(doomed).address(), c.node(other).address()}));
  v1::WatchRequest req;
  req.set_tenant("gw");
  auto watcher = watcher_client.Watch(req);
  v1::WatchResponse r;
  ASSERT_TRUE(watcher->Next(&r).ok());
  EXPECT_EQ(r.events_size(), 0);

  client::Client writer_client(ClientOptions({c.node(leader).address()}));
  std::mutex mu;
  std::vector<int64_t> acked;
  int unacked = 0;  // failed writes (an indeterminate one may still show up)
  std::atomic<bool> killed{false};
  std::thread writer([&] {
    for (int i = 0; i < 400 || !killed; ++i) {
      auto put = writer_client.Put(
          PutOf("tenant:gw/s", "k" + std::to_string(i % 5), std::to_string(i)));
      std::lock_guard<std::mutex> l(mu);
      if (put.ok()) {
        acked.push_back(put->seq());
      } else {
        ++unacked;
      }
    }
  });
  std::vector<int64_t> seen;
  // Reads events until one at or past `seq`.
  auto take_through = [&](int64_t seq) {
    while (seen.empty() || seen.back() < seq) {
      absl::Status s = watcher->Next(&r);
      if (!s.ok()) return s;
      for (const v1::ChangeEvent& e : r.events()) {
        if (!seen.empty() && e.seq() <= seen.back())
          return absl::InternalError("a duplicate or a step back");
        seen.push_back(e.seq());
      }
    }
    return absl::OkStatus();
  };
  int64_t hundredth = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        if (acked.size() >= 100) hundredth = acked[99];
        return hundredth > 0;
      },
      std::chrono::seconds(20)));
  ASSERT_TRUE(take_through(hundredth).ok());
  c.node(doomed).Kill();
  killed = true;
  writer.join();
  ASSERT_GE(acked.size(), 400u);
  absl::Status s = take_through(acked.back());
  ASSERT_TRUE(s.ok()) << s << " after " << seen.size() << " events of "
                      << acked.size() << " writes";
  std::vector<int64_t> missing;
  std::set_difference(acked.begin(), acked.end(), seen.begin(), seen.end(),
                      std::back_inserter(missing));
  EXPECT_TRUE(missing.empty())
      << missing.size() << " acknowledged writes never arrived, first seq "
      << missing.front();
  EXPECT_LE(seen.size(), acked.size() + unacked) << "events no write made";
  EXPECT_EQ(watcher->endpoint(), c.node(other).address()) << "the watch moved";
  watcher->Cancel();
  EXPECT_EQ(watcher->Next(&r).code(), absl::StatusCode::kCancelled);
}

// SIGTERM to a leader under load: it hands leadership over first (so the
// cluster never waits out an election timeout), answers the requests in
// flight while its /raft links are still up, ends watches at once with
// UNAVAILABLE (a client resumes elsewhere) and exits 0 without running
// into its grace period.
TEST(GrpcClusterTest,
     AGracefulStopOfTheLeaderHandsOverAndAnswersWhatIsInFlight) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  auto stub = v1::Watch::NewStub(GrpcChannel(c.node(leader).port()));
  auto ctx = GrpcContext(TestCluster::kApiKey, "", std::chrono::seconds(60));
  v1::WatchRequest req;
  req.set_tenant("stop");
  auto stream = stub->Watch(ctx.get(), req);
  v1::WatchResponse r;
  ASSERT_TRUE(stream->Read(&r)) << "the watch's first (empty) response";

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      HttpClient http("127.0.0.1", c.node(leader).port());
      for (int i = 0; !stop; ++i) {
        HttpResult put = http.Request(
            "PUT", "/api/v1/kv/tenant:stop/s/k" + std::to_string(w),
            "{\"value\":" + std::to_string(i) + "}", c.Auth());
        if (put.status == 0 && !put.sent) break;  // the node is gone
        answered += put.status == 200;
      }
    });
  }
  ASSERT_TRUE(
      WaitFor([&] { return answered.load() >= 50; }, std::chrono::seconds(20)));
  EXPECT_EQ(c.node(leader).Stop(std::chrono::seconds(20)), 0)
      << "a graceful stop exits 0";
  stop = true;
  for (auto& t : writers) t.join();

  std::string log = c.node(leader).log();
  EXPECT_NE(log.find("handed leadership over before stopping"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("still open"), std::string::npos)
      << "a stop ran into its grace period:\n"
      << log;
  while (stream->Read(&r)) {
  }  // the writes' events, then the end
  grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE)
      << ended.error_message();
  EXPECT_EQ(ended.error_message(), "node shutting down")
      << "ended by the node, not cut off by the server's grace";
  // The two that remain lead on without an election timeout's wait.
  int next = c.WaitLeader();
  EXPECT_GE(next, 0);
  EXPECT_NE(next, leader);
}

// Reads fail over to a live endpoint; a write whose leader is reachable
// through any endpoint succeeds.
TEST(GrpcClusterTest, TheClientFailsOverPastADeadEndpoint) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int dead = (leader + 1) % 3;
  c.node(dead).Kill();
  client::Client cl(ClientOptions(
      {c.node(dead).address(), c.node((leader + 2) % 3).address()}));
  auto put = cl.Put(PutOf("tenant:gf/s", "k", "\"v\""));
  ASSERT_TRUE(put.ok()) << put.status();
  v1::GetRequest get;
  get.set_namespace_("tenant:gf/s");
  get.set_key("k");
  get.set_min_seq(put->seq());
  auto got = cl.Get(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), "\"v\"");
  auto status = cl.Status(c.node(dead).address());
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable)
      << "no failover for one node's status";
}

// A long-poll may be held by the server for longer than one attempt may
// take: the client gives it wait_ms on top of the attempt timeout rather
// than failing it as a dead node.
TEST(GrpcClusterTest, ALongPollLongerThanAnAttemptIsAnsweredNotRetried) {
  TestCluster c;
  ASSERT_TRUE(c.Start(1));
  ASSERT_GE(c.WaitLeader(), 0);
  client::Options o = ClientOptions({c.node(0).address()});
  o.attempt_timeout = std::chrono::milliseconds(300);
  o.retry_for = std::chrono::seconds(2);
  client::Client cl(o);
  auto put = cl.Put(PutOf("tenant:gl/s", "k", "1"));
  ASSERT_TRUE(put.ok()) << put.status();
  v1::ChangesRequest req;
  req.set_namespace_("tenant:gl/s");
  req.set_since(put->seq());
  req.set_wait_ms(
      1500);  // nothing new will come: the server holds it to the end
  auto changes = cl.Changes(req);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->changes_size(), 0);
  EXPECT_EQ(changes->next_seq(), put->seq());
}

// A write that reached a node which then stopped answering may or may not
// apply: the client says so and does not send it again elsewhere.
TEST(GrpcClusterTest, AWriteWithAnUnknownOutcomeIsNotRetried) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  client::Options o = ClientOptions(
      {c.node(leader).address(), c.node((leader + 1) % 3).address()});
  o.attempt_timeout = std::chrono::milliseconds(500);
  client::Client cl(o);
  ASSERT_TRUE(cl.Put(PutOf("tenant:gi/s", "warm", "0")).ok());  // connected
  c.node(leader).Signal(SIGSTOP);
  auto put = cl.Put(PutOf("tenant:gi/s", "k", "1"));
  c.node(leader).Signal(SIGCONT);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), absl::StatusCode::kDeadlineExceeded)
      << put.status();
  EXPECT_TRUE(client::Indeterminate(put.status())) << put.status();
  EXPECT_EQ(cl.preferred_endpoint(), c.node(leader).address())
      << "no second attempt elsewhere";
}

// A leader that loses its quorum with writes in flight cannot say whether
// they will commit: gRPC says so in concordance-indeterminate, REST in
// "indeterminate" — the same answer from the same table.
TEST(GrpcClusterTest, AWriteWithoutAQuorumIsIndeterminateOnBothFrontEnds) {
  TestCluster c({"--proposal-timeout-ms=1000"});
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  auto kv = v1::KV::NewStub(GrpcChannel(c.node(leader).port()));
  HttpClient http("127.0.0.1", c.node(leader).port());
  ASSERT_EQ(http.Request("GET", "/api/v1/health").status,
            200);  // connected before the fault
  for (int i = 1; i <= 2; ++i) c.node((leader + i) % 3).Signal(SIGSTOP);
  auto ctx = GrpcContext(TestCluster::kApiKey);
  v1::PutResponse resp;
  grpc::Status g;
  std::thread grpc_put(
      [&] { g = kv->Put(ctx.get(), PutOf("tenant:gq/s", "a", "1"), &resp); });
  HttpResult rest = http.Request("PUT", "/api/v1/kv/tenant:gq/s/b",
                                 "{\"value\":1}", c.Auth());
  grpc_put.join();
  for (int i = 1; i <= 2; ++i) c.node((leader + i) % 3).Signal(SIGCONT);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::UNAVAILABLE) << g.error_message();
  EXPECT_EQ(Trailer(*ctx, "concordance-indeterminate"), "true");
  EXPECT_EQ(Trailer(*ctx, "concordance-error-code"), "unavailable");
  EXPECT_EQ(rest.status, 503) << rest.body;
  EXPECT_NE(rest.body.find("\"indeterminate\":true"), std::string::npos)
      << rest.body;
}

}  // namespace
}  // namespace concordance::testing
