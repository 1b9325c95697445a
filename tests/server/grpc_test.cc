// The concordance.v1 gRPC services through the generated C++ stubs against
// the real binary, on the same port as REST and /stream (design.md §13).
#include <google/protobuf/descriptor.pb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proto/concordance/v1/cluster.grpc.pb.h"
#include "proto/concordance/v1/kv.grpc.pb.h"
#include "proto/concordance/v1/maintenance.grpc.pb.h"
#include "proto/concordance/v1/watch.grpc.pb.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/lib/grpc_client.h"
#include "tests/lib/node.h"
#include "tests/server/rpc_util.h"

namespace concordance::testing {
namespace {

constexpr char kApi[] = "grpc-api-key";
constexpr char kAgent[] = "grpc-agent-key";
const std::map<std::string, std::string> kRestAuth = {{"Authorization", "Bearer grpc-api-key"}};

class GrpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = new TestNode("grpc");
    ASSERT_TRUE(node_->Start({"--bootstrap", std::string("--api-key=") + kApi,
                              std::string("--agent-key=") + kAgent, "--peer-key=grpc-peer-key"}));
    ASSERT_TRUE(node_->WaitReady());
    channel_ = new std::shared_ptr<grpc::Channel>(GrpcChannel(node_->port()));
  }
  static void TearDownTestSuite() {
    delete channel_;
    node_->Stop();
    delete node_;
  }
  std::unique_ptr<v1::KV::Stub> Kv() { return v1::KV::NewStub(*channel_); }

  // Puts `value_json` at ns/key; the status, and the response in *out.
  grpc::Status Put(const std::string& ns, const std::string& key, const std::string& value_json,
                   v1::PutResponse* out = nullptr, std::unique_ptr<grpc::ClientContext>* ctx_out = nullptr,
                   std::optional<int64_t> expected = std::nullopt) {
    v1::PutRequest req;
    req.set_namespace_(ns);
    req.set_key(key);
    req.set_value(value_json);
    if (expected) req.set_expected_version(*expected);
    v1::PutResponse resp;
    auto ctx = GrpcContext(kApi);
    grpc::Status s = Kv()->Put(ctx.get(), req, &resp);
    if (out) *out = resp;
    if (ctx_out) *ctx_out = std::move(ctx);
    return s;
  }

  static TestNode* node_;
  static std::shared_ptr<grpc::Channel>* channel_;
};
TestNode* GrpcTest::node_ = nullptr;
std::shared_ptr<grpc::Channel>* GrpcTest::channel_ = nullptr;

TEST_F(GrpcTest, KvCrud) {
  v1::PutResponse put;
  ASSERT_TRUE(Put("tenant:g/s", "k", "{\"a\": [1, 2]}", &put).ok());
  EXPECT_EQ(put.version(), 1);
  EXPECT_GT(put.seq(), 0);
  EXPECT_EQ(put.expires_at(), 0);
  v1::GetRequest get;
  get.set_namespace_("tenant:g/s");
  get.set_key("k");
  v1::Entry e;
  auto ctx = GrpcContext(kAgent);
  ASSERT_TRUE(Kv()->Get(ctx.get(), get, &e).ok());
  EXPECT_EQ(e.value(), "{\"a\":[1,2]}");  // stored compact
  EXPECT_EQ(e.version(), 1);
  EXPECT_EQ(e.updated_by(), "api");
  // The same entry over REST.
  auto rest = ParseJson(node_->http().Request("GET", "/api/v1/kv/tenant:g/s/k", "", kRestAuth).body);
  EXPECT_EQ(JsonInt(rest, "version"), 1);
  get.set_consistency(v1::LINEARIZABLE);
  ctx = GrpcContext(kAgent);
  ASSERT_TRUE(Kv()->Get(ctx.get(), get, &e).ok());
  v1::DeleteRequest del;
  del.set_namespace_("tenant:g/s");
  del.set_key("k");
  v1::DeleteResponse dr;
  ctx = GrpcContext(kApi, "user:u1");
  ASSERT_TRUE(Kv()->Delete(ctx.get(), del, &dr).ok());
  EXPECT_GT(dr.seq(), put.seq());
  ctx = GrpcContext(kAgent);
  grpc::Status missing = Kv()->Get(ctx.get(), get, &e);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Trailer(*ctx, "concordance-error-code"), "not_found");
}

TEST_F(GrpcTest, CompareAndSwapConflictCarriesTheCurrentVersion) {
  ASSERT_TRUE(Put("tenant:g/cas", "k", "1").ok());
  std::unique_ptr<grpc::ClientContext> ctx;
  grpc::Status s = Put("tenant:g/cas", "k", "2", nullptr, &ctx, /*expected=*/5);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Trailer(*ctx, "concordance-current-version"), "1");
  EXPECT_EQ(Trailer(*ctx, "concordance-error-code"), "version_conflict");
  s = Put("tenant:g/cas", "absent", "2", nullptr, &ctx, /*expected=*/3);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Trailer(*ctx, "concordance-current-version"), "0");
  EXPECT_TRUE(Put("tenant:g/cas", "new", "1", nullptr, nullptr, /*expected=*/0).ok());  // create only
}

TEST_F(GrpcTest, TtlExpires) {
  v1::PutRequest req;
  req.set_namespace_("tenant:g/ttl");
  req.set_key("k");
  req.set_value("true");
  req.set_ttl_ms(300);
  v1::PutResponse resp;
  auto ctx = GrpcContext(kApi);
  ASSERT_TRUE(Kv()->Put(ctx.get(), req, &resp).ok());
  EXPECT_GT(resp.expires_at(), resp.updated_at());
  req.set_ttl_ms(0);
  ctx = GrpcContext(kApi);
  EXPECT_EQ(Kv()->Put(ctx.get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetRequest get;
  get.set_namespace_("tenant:g/ttl");
  get.set_key("k");
  EXPECT_TRUE(WaitFor(
      [&] {
        v1::Entry e;
        auto c = GrpcContext(kApi);
        return Kv()->Get(c.get(), get, &e).error_code() == grpc::StatusCode::NOT_FOUND;
      },
      std::chrono::seconds(5)));
}

TEST_F(GrpcTest, BatchIsAtomicAndNamesTheFailingOp) {
  ASSERT_TRUE(Put("tenant:g/b", "old", "1").ok());
  v1::BatchRequest req;
  auto* set = req.add_ops()->mutable_set();
  set->set_namespace_("tenant:g/b");
  set->set_key("x");
  set->set_value("1");
  auto* del = req.add_ops()->mutable_delete_();
  del->set_namespace_("tenant:g/b");
  del->set_key("old");
  v1::BatchResponse resp;
  auto ctx = GrpcContext(kApi);
  ASSERT_TRUE(Kv()->Batch(ctx.get(), req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 2);
  EXPECT_TRUE(resp.results(0).has_set());
  EXPECT_TRUE(resp.results(1).has_delete_());
  v1::BatchRequest bad;
  auto* s2 = bad.add_ops()->mutable_set();
  s2->set_namespace_("tenant:g/b");
  s2->set_key("y");
  s2->set_value("1");
  auto* s3 = bad.add_ops()->mutable_set();
  s3->set_namespace_("tenant:g/b");
  s3->set_key("x");
  s3->set_value("2");
  s3->set_expected_version(7);
  ctx = GrpcContext(kApi);
  EXPECT_EQ(Kv()->Batch(ctx.get(), bad, &resp).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Trailer(*ctx, "concordance-op-index"), "1");
  v1::GetRequest get;
  get.set_namespace_("tenant:g/b");
  get.set_key("y");
  v1::Entry e;
  ctx = GrpcContext(kApi);
  EXPECT_EQ(Kv()->Get(ctx.get(), get, &e).error_code(), grpc::StatusCode::NOT_FOUND) << "partial batch";
}

TEST_F(GrpcTest, ListPagesThroughEverything) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(Put("tenant:g/list", "k" + std::to_string(100 + i), "1").ok());
  std::set<std::string> keys;
  v1::ListRequest req;
  req.set_namespace_("tenant:g/list");
  req.set_limit(10);
  int pages = 0;
  while (true) {
    v1::ListResponse resp;
    auto ctx = GrpcContext(kAgent);
    ASSERT_TRUE(Kv()->List(ctx.get(), req, &resp).ok());
    ++pages;
    for (const v1::Entry& e : resp.entries()) keys.insert(e.key());
    if (resp.next().empty()) break;
    req.set_after(resp.next());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(keys.size(), 25u);
  EXPECT_EQ(pages, 3);
  req.set_limit(0);
  v1::ListResponse resp;
  auto ctx = GrpcContext(kAgent);
  EXPECT_EQ(Kv()->List(ctx.get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcTest, ChangesLongPollsWithWaitMs) {
  auto changes = v1::Changes::NewStub(*channel_);
  v1::ChangesRequest first;
  first.set_tenant("gch");
  v1::ChangesResponse now;
  auto ctx = GrpcContext(kAgent);
  ASSERT_TRUE(changes->List(ctx.get(), first, &now).ok());
  v1::ChangesRequest wait;
  wait.set_tenant("gch");
  wait.set_since(now.next_seq());
  wait.set_wait_ms(10000);
  v1::ChangesResponse got;
  grpc::Status status;
  std::thread poll([&] {
    auto c = GrpcContext(kAgent);
    status = changes->List(c.get(), wait, &got);
  });
  ASSERT_TRUE(WaitFor([&] { return node_->Metric("concordance_changes_long_polls_waiting", kRestAuth).value_or(0) >= 1; },
                      std::chrono::seconds(5)));
  ASSERT_TRUE(Put("tenant:gch/s", "k", "\"v\"").ok());
  poll.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(got.changes_size(), 1);
  EXPECT_EQ(got.changes(0).key(), "k");
  EXPECT_EQ(got.changes(0).tenant_id(), "gch");
  EXPECT_EQ(got.changes(0).value(), "\"v\"");
}

TEST_F(GrpcTest, WatchFromSeqWhileAWriterRunsDeliversEverySeqOnce) {
  constexpr int kWrites = 300;
  v1::PutResponse first;
  ASSERT_TRUE(Put("tenant:gw/s", "k0", "0", &first).ok());  // replayed
  std::vector<int64_t> written = {first.seq()};
  std::mutex mu;
  std::thread writer([&] {
    for (int i = 1; i <= kWrites; ++i) {
      v1::PutResponse r;
      if (Put("tenant:gw/s", "k" + std::to_string(i % 7), std::to_string(i), &r).ok()) {
        std::lock_guard<std::mutex> l(mu);
        written.push_back(r.seq());
      }
    }
  });
  v1::WatchRequest req;
  req.set_tenant("gw");
  req.set_from_seq(first.seq() - 1);  // replay from k0 on, racing the writer
  auto wctx = GrpcContext(kAgent, "", std::chrono::seconds(60));
  auto reader = v1::Watch::NewStub(*channel_)->Watch(wctx.get(), req);
  v1::WatchResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.events_size(), 0) << "the first response carries only the seq";
  EXPECT_GE(r.seq(), first.seq());
  writer.join();
  ASSERT_EQ(written.size(), kWrites + 1u);
  std::vector<int64_t> seen;
  while (seen.size() < written.size()) {
    ASSERT_TRUE(reader->Read(&r)) << "stream ended after " << seen.size() << " events";
    ASSERT_GE(r.events_size(), 1);
    for (const v1::ChangeEvent& e : r.events()) {
      ASSERT_TRUE(seen.empty() || e.seq() > seen.back()) << "out of order or duplicate at " << e.seq();
      seen.push_back(e.seq());
    }
  }
  EXPECT_EQ(seen, written) << "every write's seq, once, in order";
  wctx->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// 128 changes applied at once reach the watcher's queue faster than gRPC
// completes writes: those queued behind a write in flight join one
// response rather than one write each.
TEST_F(GrpcTest, AWatcherBehindGetsTheChangesQueuedMeanwhileInFewerResponses) {
  v1::WatchRequest req;
  req.set_tenant("gbatch");
  auto wctx = GrpcContext(kAgent, "", std::chrono::seconds(60));
  auto reader = v1::Watch::NewStub(*channel_)->Watch(wctx.get(), req);
  v1::WatchResponse r;
  ASSERT_TRUE(reader->Read(&r));  // the start
  constexpr int kOps = 128;
  v1::BatchRequest batch;
  for (int i = 0; i < kOps; ++i) {
    v1::SetOp* op = batch.add_ops()->mutable_set();
    op->set_namespace_("tenant:gbatch/s");
    op->set_key("k" + std::to_string(i));
    op->set_value("\"" + std::string(4000, 'v') + "\"");
  }
  v1::BatchResponse done;
  auto ctx = GrpcContext(kApi);
  ASSERT_TRUE(Kv()->Batch(ctx.get(), batch, &done).ok());
  int responses = 0;
  std::vector<std::string> keys;
  while (keys.size() < kOps) {
    ASSERT_TRUE(reader->Read(&r)) << "stream ended after " << keys.size() << " events";
    ASSERT_GE(r.events_size(), 1);
    ++responses;
    for (const v1::ChangeEvent& e : r.events()) keys.push_back(e.key());
  }
  for (int i = 0; i < kOps; ++i) EXPECT_EQ(keys[i], "k" + std::to_string(i)) << "in order, once";
  // How many join depends on how soon each write completes (under load
  // many do at once); one response per change means none ever joined.
  EXPECT_LT(responses, kOps) << "the changes behind a write in flight were not batched";
  wctx->TryCancel();
  reader->Finish();
}

TEST_F(GrpcTest, WatchFromACompactedSeqEndsOutOfRange) {
  auto watch = v1::Watch::NewStub(*channel_);
  v1::WatchRequest req;
  req.set_namespace_("tenant:g/s");
  req.set_from_seq(0);
  auto ctx = GrpcContext(kAgent);
  auto reader = watch->Watch(ctx.get(), req);
  v1::WatchResponse r;
  ASSERT_TRUE(reader->Read(&r));  // nothing compacted here: a start
  ctx->TryCancel();
  reader->Finish();
  req.clear_target();
  ctx = GrpcContext(kAgent);
  reader = watch->Watch(ctx.get(), req);
  EXPECT_FALSE(reader->Read(&r));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcTest, ClusterStatusJoinRemoveAndTransfer) {
  auto cluster = v1::Cluster::NewStub(*channel_);
  v1::StatusResponse st;
  auto ctx = GrpcContext(kAgent);
  ASSERT_TRUE(cluster->Status(ctx.get(), v1::StatusRequest(), &st).ok());
  EXPECT_EQ(st.node_id(), "node1");
  EXPECT_EQ(st.role(), "leader");
  EXPECT_EQ(st.state_hash().size(), 64u);
  ASSERT_EQ(st.peers_size(), 1);
  v1::JoinRequest join;
  join.set_node_id("n2");
  join.set_address("127.0.0.1:1");
  ctx = GrpcContext(kAgent);
  EXPECT_EQ(cluster->Join(ctx.get(), join, &st).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ctx = GrpcContext(kApi);
  ASSERT_TRUE(cluster->Join(ctx.get(), join, &st).ok());
  EXPECT_EQ(st.peers_size(), 2);
  v1::RemoveRequest remove;
  remove.set_node_id("n2");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = GrpcContext(kApi);
        return cluster->Remove(c.get(), remove, &st).ok();  // after the join has applied
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(st.peers_size(), 1);
  v1::TransferLeadershipRequest transfer;
  ctx = GrpcContext(kApi);
  grpc::Status t = cluster->TransferLeadership(ctx.get(), transfer, &st);
  EXPECT_FALSE(t.ok()) << "a single node has no one to hand over to";
}

// Under write load the Raft loop handles the next Ready before the reply
// of a membership change goes out; the reply must still show the change.
TEST_F(GrpcTest, MembershipRepliesShowTheirChangeUnderWriteLoad) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) Put("tenant:gm/s", "k" + std::to_string(i % 10), "1");
  });
  auto cluster = v1::Cluster::NewStub(*channel_);
  for (int round = 0; round < 20; ++round) {
    v1::JoinRequest join;
    join.set_node_id("gm-learner");
    join.set_address("127.0.0.1:9");
    v1::StatusResponse st;
    auto ctx = GrpcContext(kApi);
    ASSERT_TRUE(cluster->Join(ctx.get(), join, &st).ok());
    EXPECT_EQ(st.peers_size(), 2) << "join reply of round " << round;
    v1::RemoveRequest remove;
    remove.set_node_id("gm-learner");
    ASSERT_TRUE(WaitFor(
        [&] {
          auto c = GrpcContext(kApi);
          return cluster->Remove(c.get(), remove, &st).ok();
        },
        std::chrono::seconds(5)));
    EXPECT_EQ(st.peers_size(), 1) << "remove reply of round " << round;
  }
  stop = true;
  writer.join();
}

TEST_F(GrpcTest, SnapshotStreamsABackupThatRestores) {
  ASSERT_TRUE(Put("tenant:gs/s", "kept", "\"backup\"").ok());
  auto maintenance = v1::Maintenance::NewStub(*channel_);
  auto ctx = GrpcContext(kApi, "", std::chrono::seconds(30));
  auto reader = maintenance->Snapshot(ctx.get(), v1::SnapshotRequest());
  std::string image, sha;
  v1::SnapshotChunk chunk;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.offset(), image.size());
    image += chunk.data();
    if (!chunk.sha256().empty()) sha = chunk.sha256();
    EXPECT_GT(chunk.total_size(), 0u);
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(sha.size(), 64u);
  ASSERT_EQ(image.compare(0, 15, "SQLite format 3"), 0);
  std::string path = MakeTempDir("backup") + "/state.db";
  std::ofstream(path, std::ios::binary) << image;
  TestNode restored("grpc-restored");
  ASSERT_TRUE(restored.Start({"--bootstrap", "--restore=" + path}));
  ASSERT_TRUE(restored.WaitReady());
  HttpResult r = restored.http().Request("GET", "/api/v1/kv/tenant:gs/s/kept");
  EXPECT_EQ(r.status, 200) << r.body;
  restored.Stop();
  ctx = GrpcContext(kAgent);
  reader = maintenance->Snapshot(ctx.get(), v1::SnapshotRequest());
  EXPECT_FALSE(reader->Read(&chunk));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(GrpcTest, AuthMatrixOverMetadata) {
  v1::GetRequest get;
  get.set_namespace_("tenant:g/s");
  get.set_key("auth");
  v1::Entry e;
  auto none = GrpcContext("");
  EXPECT_EQ(Kv()->Get(none.get(), get, &e).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Trailer(*none, "concordance-error-code"), "unauthorized");
  auto wrong = GrpcContext("wrong-key");
  EXPECT_EQ(Kv()->Get(wrong.get(), get, &e).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto agent = GrpcContext(kAgent);
  EXPECT_EQ(Kv()->Get(agent.get(), get, &e).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::PutRequest put;
  put.set_namespace_("tenant:g/s");
  put.set_key("auth");
  put.set_value("1");
  v1::PutResponse pr;
  agent = GrpcContext(kAgent);
  EXPECT_EQ(Kv()->Put(agent.get(), put, &pr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Trailer(*agent, "concordance-error-code"), "forbidden");
  // Authentication comes before validity: no key and a bad request is 401.
  put.set_namespace_("bad");
  none = GrpcContext("");
  EXPECT_EQ(Kv()->Put(none.get(), put, &pr).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto system = GrpcContext(kApi, "system:ttl");
  put.set_namespace_("tenant:g/s");
  EXPECT_EQ(Kv()->Put(system.get(), put, &pr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto actor = GrpcContext(kApi, "user:grpc");
  ASSERT_TRUE(Kv()->Put(actor.get(), put, &pr).ok());
  agent = GrpcContext(kAgent);
  ASSERT_TRUE(Kv()->Get(agent.get(), get, &e).ok());
  EXPECT_EQ(e.updated_by(), "user:grpc");
}

TEST_F(GrpcTest, HealthIsServingWithoutAKey) {
  auto health = grpc::health::v1::Health::NewStub(*channel_);
  grpc::health::v1::HealthCheckResponse resp;
  auto ctx = GrpcContext("");
  ASSERT_TRUE(health->Check(ctx.get(), grpc::health::v1::HealthCheckRequest(), &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// Generic tools find the services through reflection, without a key.
TEST_F(GrpcTest, ReflectionListsAndDescribesTheServices) {
  namespace refl = grpc::reflection::v1alpha;
  auto stub = refl::ServerReflection::NewStub(*channel_);
  auto ctx = GrpcContext("");
  auto stream = stub->ServerReflectionInfo(ctx.get());
  refl::ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.insert(s.name());
  for (const char* want : {"concordance.v1.KV", "concordance.v1.Watch", "concordance.v1.Changes",
                           "concordance.v1.Cluster", "concordance.v1.Maintenance", "grpc.health.v1.Health"}) {
    EXPECT_TRUE(names.count(want)) << want;
  }
  refl::ServerReflectionRequest describe;
  describe.set_file_containing_symbol("concordance.v1.KV");
  ASSERT_TRUE(stream->Write(describe));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(resp.has_file_descriptor_response()) << resp.DebugString();
  bool found = false;
  for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    for (const auto& service : file.service()) {
      if (service.name() != "KV") continue;
      found = true;
      std::set<std::string> methods;
      for (const auto& m : service.method()) methods.insert(m.name());
      EXPECT_EQ(methods, (std::set<std::string>{"Get", "Put", "Delete", "List", "Batch"}));
    }
  }
  EXPECT_TRUE(found);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GrpcTest, BadInputGetsTheSameAnswersAsRest) {
  uint64_t commit = ParseJson(node_->http().Request("GET", "/api/v1/cluster/status", "", kRestAuth).body)["commitIndex"].GetUint64();
  struct Case {
    const char* what;
    std::string ns, key, value;
    const char* code;
  };
  std::string big = "\"" + std::string(1 << 20, 'x') + "\"";
  for (const Case& c : {Case{"malformed JSON", "tenant:g/s", "k", "{\"a\":", "invalid_argument"},
                        Case{"no value", "tenant:g/s", "k", "", "invalid_argument"},
                        Case{"bad namespace", "nope", "k", "1", "invalid_argument"},
                        Case{"empty key", "tenant:g/s", "", "1", "invalid_argument"},
                        Case{"oversized value", "tenant:g/s", "k", big, "too_large"},
                        Case{"lone surrogate", "tenant:g/s", "k", "\"\\udc00\"", "invalid_argument"}}) {
    v1::PutRequest put;
    put.set_namespace_(c.ns);
    put.set_key(c.key);
    put.set_value(c.value);
    v1::PutResponse pr;
    auto ctx = GrpcContext(kApi);
    grpc::Status s = Kv()->Put(ctx.get(), put, &pr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << s.error_message();
    EXPECT_EQ(Trailer(*ctx, "concordance-error-code"), c.code) << c.what;
    // REST says the same.
    if (!c.ns.empty() && !c.key.empty() && c.ns != "nope") {
      HttpResult r = node_->http().Request("PUT", "/api/v1/kv/" + c.ns + "/" + c.key,
                                           c.value.empty() ? "{}" : "{\"value\":" + c.value + "}", kRestAuth);
      auto err = ParseJson(r.body);
      if (std::string(c.what) != "malformed JSON") {
        EXPECT_EQ(JsonString(err["error"], "code"), c.code) << c.what << ": " << r.body;
      }
    }
  }
  // Raw invalid UTF-8 in a string field: gRPC itself refuses the message.
  v1::PutRequest raw;
  raw.set_namespace_("tenant:g/\xff\xfe");
  raw.set_key("k");
  raw.set_value("1");
  v1::PutResponse pr;
  auto ctx = GrpcContext(kApi);
  EXPECT_FALSE(Kv()->Put(ctx.get(), raw, &pr).ok());
  // A message over the body limit: gRPC refuses it before the service.
  v1::PutRequest huge;
  huge.set_namespace_("tenant:g/s");
  huge.set_key("k");
  huge.set_value("\"" + std::string(2 << 20, 'x') + "\"");
  ctx = GrpcContext(kApi);
  EXPECT_EQ(Kv()->Put(ctx.get(), huge, &pr).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  uint64_t after = ParseJson(node_->http().Request("GET", "/api/v1/cluster/status", "", kRestAuth).body)["commitIndex"].GetUint64();
  EXPECT_EQ(after, commit) << "a refused write reached the log";
}

TEST_F(GrpcTest, GarbageAfterTheHttp2PrefaceDoesNotDisturbOthers) {
  for (int i = 0; i < 5; ++i) {
    int fd = TcpConnect(node_->port());
    ASSERT_GE(fd, 0);
    std::string bytes = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string(4096, static_cast<char>(0xA5 + i));
    SendAll(fd, bytes);
    // A partial preface, then nothing: dropped at the head deadline, harmless.
    int partial = TcpConnect(node_->port());
    SendAll(partial, "PRI * HTTP/2");
    EXPECT_TRUE(Put("tenant:g/s", "alive" + std::to_string(i), "1").ok());
    EXPECT_EQ(node_->http().Request("GET", "/api/v1/kv/tenant:g/s/alive" + std::to_string(i), "", kRestAuth).status, 200);
    close(fd);
    close(partial);
  }
  EXPECT_TRUE(node_->running());
}

// One port, three protocols at once: a gRPC watch, a /stream watch and
// plain HTTP writes all see the same changes.
TEST_F(GrpcTest, GrpcWebSocketAndHttpShareThePort) {
  auto watch = v1::Watch::NewStub(*channel_);
  v1::WatchRequest req;
  req.set_tenant("gmix");
  auto gctx = GrpcContext(kAgent, "", std::chrono::seconds(30));
  auto reader = watch->Watch(gctx.get(), req);
  v1::WatchResponse start;
  ASSERT_TRUE(reader->Read(&start));
  WsClient ws;
  ASSERT_TRUE(ws.Connect("127.0.0.1", node_->port(), "/stream", {{"Authorization", std::string("Bearer ") + kAgent}}));
  auto sub = Call(ws, 1, "watch/subscribe", "{\"tenant\":\"gmix\"}");
  ASSERT_TRUE(sub.HasMember("result"));
  std::vector<int64_t> written;
  for (int i = 0; i < 20; ++i) {
    HttpResult r = node_->http().Request("PUT", "/api/v1/kv/tenant:gmix/s/k" + std::to_string(i), "{\"value\":1}", kRestAuth);
    ASSERT_EQ(r.status, 200);
    written.push_back(JsonInt(ParseJson(r.body), "seq"));
  }
  std::vector<int64_t> over_grpc, over_ws;
  while (over_grpc.size() < written.size()) {
    v1::WatchResponse r;
    ASSERT_TRUE(reader->Read(&r));
    for (const auto& e : r.events()) over_grpc.push_back(e.seq());
  }
  while (over_ws.size() < written.size()) {
    std::optional<std::string> m = ws.Receive();
    ASSERT_TRUE(m.has_value());
    over_ws.push_back(JsonInt(ParseJson(*m)["params"], "seq"));
  }
  EXPECT_EQ(over_grpc, written);
  EXPECT_EQ(over_ws, written);
  gctx->TryCancel();
  reader->Finish();
}

// A channel on a TCP connection of its own (gRPC shares connections
// between channels with equal arguments otherwise).
std::shared_ptr<grpc::Channel> OwnChannel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(),
                                   args);
}

grpc::StatusCode HealthOver(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::health::v1::HealthCheckResponse resp;
  auto ctx = GrpcContext("", "", std::chrono::seconds(3));
  return grpc::health::v1::Health::NewStub(channel)
      ->Check(ctx.get(), grpc::health::v1::HealthCheckRequest(), &resp)
      .error_code();
}

// The status of GET /api/v1/health on a new HTTP connection.
int HttpHealth(int port) {
  HttpClient http("127.0.0.1", port);
  return http.Request("GET", "/api/v1/health").status;
}

// Waits until the only HTTP connection open is node.http()'s kept-alive one
// (the server has seen the close of every other, so their slots are free).
bool WaitForOnlyTheKeptConnection(TestNode& node) {
  return WaitFor(
      [&] {
        auto metrics = node.http().Request("GET", "/metrics");
        return metrics.body.find("\nconcordance_http_connections 1\n") != std::string::npos;
      },
      std::chrono::seconds(5));
}

// gRPC connections count against --max-connections for as long as they
// live, like HTTP and /stream ones: while they hold every slot, new clients
// are refused; when one ends (its client goes away), its slot is free again.
TEST(GrpcConnectionsTest, GrpcConnectionsHoldClientSlotsUntilTheyEnd) {
  TestNode node("grpc-slots");
  // Three slots: node.http()'s kept-alive connection and two gRPC ones.
  ASSERT_TRUE(node.Start({"--bootstrap", "--max-connections=3"}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_TRUE(WaitFor([&] { return HttpHealth(node.port()) == 200; }, std::chrono::seconds(5)));
  ASSERT_TRUE(WaitForOnlyTheKeptConnection(node));
  auto a = OwnChannel(node.port());
  auto b = OwnChannel(node.port());
  ASSERT_EQ(HealthOver(a), grpc::StatusCode::OK);
  ASSERT_EQ(HealthOver(b), grpc::StatusCode::OK);
  EXPECT_EQ(HttpHealth(node.port()), 503) << "two gRPC connections hold both slots";
  auto c = OwnChannel(node.port());
  EXPECT_EQ(HealthOver(c), grpc::StatusCode::UNAVAILABLE) << "a third gRPC connection is refused";
  c.reset();
  a.reset();  // its connection closes; the server sees it end
  EXPECT_TRUE(WaitFor([&] { return HttpHealth(node.port()) == 200; }, std::chrono::seconds(10)))
      << "the slot of a gRPC connection that ended was not released";
  EXPECT_EQ(HealthOver(b), grpc::StatusCode::OK) << "the other connection is untouched";
  auto metrics = node.http().Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("concordance_grpc_connections 1"), std::string::npos) << metrics.body;
}

// A connection the gRPC server closes for idleness (GOAWAY, then close)
// frees its slot too, and its client sees the close at once.
TEST(GrpcConnectionsTest, AnIdleGrpcConnectionIsClosedAndItsSlotFreed) {
  TestNode node("grpc-idle");
  // Two slots: node.http()'s kept-alive connection and one gRPC one.
  ASSERT_TRUE(node.Start({"--bootstrap", "--max-connections=2", "--grpc-idle-timeout-ms=300"}));
  ASSERT_TRUE(node.WaitReady());
  ASSERT_TRUE(WaitFor([&] { return HttpHealth(node.port()) == 200; }, std::chrono::seconds(5)));
  ASSERT_TRUE(WaitForOnlyTheKeptConnection(node));
  auto a = OwnChannel(node.port());
  ASSERT_EQ(HealthOver(a), grpc::StatusCode::OK);
  EXPECT_TRUE(WaitFor([&] { return a->GetState(false) != GRPC_CHANNEL_READY; }, std::chrono::seconds(10)))
      << "the client never saw the idle connection close";
  EXPECT_TRUE(WaitFor([&] { return HttpHealth(node.port()) == 200; }, std::chrono::seconds(10)))
      << "the slot of the idle connection was not released";
}

}  // namespace
}  // namespace concordance::testing
