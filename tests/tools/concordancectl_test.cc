// concordancectl against a real 3-node cluster, run as an operator runs
// it: a subprocess whose stdout, stderr and exit code are checked. KV
// commands, paging, batches from a file, a watch that sees a write made
// by another client, the exit code of each kind of failure, backups that
// a new node restores, and the cluster commands (status of every member,
// leadership transfer, membership changes).
#include <openssl/evp.h>

#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/lib/cluster.h"
#include "tests/tools/ctl_runner.h"

namespace concordance::testing {
namespace {

const std::vector<std::string> kKeyEnv = {std::string("CONCORDANCE_API_KEY=") +
                                          TestCluster::kApiKey};

std::string Version() {
  std::ifstream in(RunfilePath("VERSION"));
  std::string v;
  in >> v;
  return v;
}

std::string Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::string data = bytes.str();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(md), len));
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The cluster's addresses, `first` first.
std::string Endpoints(TestCluster& c, int first = 0) {
  std::vector<std::string> list;
  for (int i = 0; i < c.size(); ++i)
    list.push_back(c.node((first + i) % c.size()).address());
  return "--endpoints=" + absl::StrJoin(list, ",");
}

// One 3-node cluster for the KV tests; each test has its own namespace.
class CtlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new TestCluster();
    ASSERT_TRUE(cluster_->Start(3));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  // concordancectl with the cluster's endpoints and key (from the env).
  static CtlResult Run(std::vector<std::string> args,
                       const std::string& input = "") {
    args.insert(args.begin(), Endpoints(*cluster_));
    return RunCtl(args, kKeyEnv, input);
  }
  static TestCluster* cluster_;
};

TestCluster* CtlTest::cluster_ = nullptr;

TEST_F(CtlTest, PutThenGetAsATableAndAsJson) {
  CtlResult put = Run(
      {"put", "tenant:ctl/kv", "theme", "{\"mode\": \"dark\"}", "-o", "json"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  rapidjson::Document written = ParseJson(put.out);
  EXPECT_EQ(JsonInt(written, "version"), 1) << put.out;
  EXPECT_GT(JsonInt(written, "seq"), 0);
  EXPECT_TRUE(written.HasMember("expiresAt") && written["expiresAt"].IsNull());

  CtlResult table = Run({"get", "tenant:ctl/kv", "theme", "--linearizable"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = Lines(table.out);
  ASSERT_GE(lines.size(), 7u) << table.out;
  EXPECT_EQ(lines[0], "namespace   tenant:ctl/kv");
  EXPECT_EQ(lines[1], "key         theme");
  EXPECT_EQ(lines[2], "value       {\"mode\":\"dark\"}");
  EXPECT_EQ(lines[3], "version     1");
  EXPECT_EQ(lines[6], "expires at  -");

  CtlResult json =
      Run({"get", "tenant:ctl/kv", "theme", "--linearizable", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  rapidjson::Document e = ParseJson(json.out);
  ASSERT_TRUE(e.IsObject()) << json.out;
  EXPECT_EQ(JsonString(e, "namespace"), "tenant:ctl/kv");
  EXPECT_EQ(JsonString(e, "key"), "theme");
  ASSERT_TRUE(e["value"].IsObject())
      << "the value is JSON, not a string: " << json.out;
  EXPECT_EQ(JsonString(e["value"], "mode"), "dark");
  EXPECT_EQ(JsonInt(e, "version"), 1);
  EXPECT_EQ(JsonString(e, "updatedBy"), "api");
  EXPECT_EQ(JsonInt(e, "updatedAt"), JsonInt(written, "updatedAt"));
  EXPECT_TRUE(e["expiresAt"].IsNull());
}

TEST_F(CtlTest, PutTakesStdinATtlAndAnExpectedVersion) {
  CtlResult put =
      Run({"put", "tenant:ctl/stdin", "k", "-", "--ttl=3600"}, "[1, 2, 3]\n");
  ASSERT_EQ(put.exit_code, 0) << put.err;
  CtlResult cas = Run({"put", "tenant:ctl/stdin", "k", "\"next\"",
                       "--expected-version=1", "-o", "json"});
  ASSERT_EQ(cas.exit_code, 0) << cas.err;
  EXPECT_EQ(JsonInt(ParseJson(cas.out), "version"), 2);
  CtlResult get =
      Run({"get", "tenant:ctl/stdin", "k", "--linearizable", "-o", "json"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  rapidjson::Document e = ParseJson(get.out);
  EXPECT_EQ(JsonString(e, "value"), "next");
  EXPECT_TRUE(e["expiresAt"].IsNull())
      << "a write without --ttl clears the TTL";
  CtlResult del = Run(
      {"del", "tenant:ctl/stdin", "k", "--expected-version=2", "-o", "json"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_GT(JsonInt(ParseJson(del.out), "seq"),
            JsonInt(ParseJson(cas.out), "seq"));
}

TEST_F(CtlTest, LsPagesThroughEveryEntry) {
  std::string ops;
  for (int i = 0; i < 23; ++i) {
    absl::StrAppend(
        &ops, i ? "," : "",
        "{\"op\":\"set\",\"namespace\":\"tenant:ctl/ls\",\"key\":\"k",
        i < 10 ? "0" : "", i, "\",\"value\":", i, "}");
  }
  HttpResult w =
      cluster_->Request(0, "POST", "/api/v1/batch", "{\"ops\":[" + ops + "]}");
  ASSERT_EQ(w.status, 200) << w.body;
  CtlResult json = Run(
      {"ls", "tenant:ctl/ls", "--page-size=5", "--linearizable", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  rapidjson::Document d = ParseJson(json.out);
  ASSERT_TRUE(d.IsObject() && d["entries"].IsArray()) << json.out;
  ASSERT_EQ(d["entries"].Size(), 23u) << "all five pages";
  for (rapidjson::SizeType i = 0; i < 23; ++i) {
    EXPECT_EQ(d["entries"][i]["value"].GetInt(), static_cast<int>(i));
  }
  CtlResult table =
      Run({"ls", "tenant:ctl/ls", "k1", "--page-size=4", "--linearizable"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 11u) << table.out;  // a header, k10..k19
  EXPECT_EQ(lines[0].rfind("KEY  VERSION  UPDATED BY", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("k10  1 ", 0), 0u) << lines[1];
}

TEST_F(CtlTest, BatchAppliesTheOpsOfAFile) {
  ASSERT_EQ(Run({"put", "tenant:ctl/batch", "old", "1"}).exit_code, 0);
  std::string file = MakeTempDir("batch") + "/ops.json";
  std::ofstream(file) << R"({"ops":[
      {"op":"set","namespace":"tenant:ctl/batch","key":"new","value":{"a":[1,2]}},
      {"op":"delete","namespace":"tenant:ctl/batch","key":"old","expectedVersion":1}]})";
  CtlResult r = Run({"batch", file, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseJson(r.out);
  ASSERT_TRUE(d.IsObject() && d["results"].IsArray() &&
              d["results"].Size() == 2)
      << r.out;
  EXPECT_EQ(JsonInt(d["results"][0], "version"), 1);
  EXPECT_EQ(JsonInt(d["results"][1], "seq"),
            JsonInt(d["results"][0], "seq") + 1);
  CtlResult got =
      Run({"get", "tenant:ctl/batch", "new", "--linearizable", "-o", "json"});
  rapidjson::Document value = ParseJson(got.out);
  ASSERT_TRUE(value.IsObject() && value["value"]["a"].IsArray()) << got.out;
  EXPECT_EQ(value["value"]["a"][1].GetInt(), 2);
  EXPECT_EQ(Run({"get", "tenant:ctl/batch", "old", "--linearizable"}).exit_code,
            4);

  // All or nothing: a losing op fails the batch, named on stderr.
  CtlResult conflict = Run({"batch"}, R"({"ops":[
      {"op":"set","namespace":"tenant:ctl/batch","key":"other","value":1},
      {"op":"set","namespace":"tenant:ctl/batch","key":"new","value":2,"expectedVersion":7}]})");
  EXPECT_EQ(conflict.exit_code, 5) << conflict.err;
  EXPECT_EQ(conflict.err,
            "concordancectl: batch: op 1: conflict: current version is 1\n");
  EXPECT_EQ(
      Run({"get", "tenant:ctl/batch", "other", "--linearizable"}).exit_code, 4);
}

TEST_F(CtlTest, EachKindOfFailureHasItsExitCode) {
  ASSERT_EQ(Run({"put", "tenant:ctl/err", "k", "1"}).exit_code, 0);
  ASSERT_EQ(Run({"put", "tenant:ctl/err", "k", "2"}).exit_code, 0);
  CtlResult cas =
      Run({"put", "tenant:ctl/err", "k", "3", "--expected-version=1"});
  EXPECT_EQ(cas.exit_code, 5);
  EXPECT_EQ(
      cas.err,
      "concordancectl: put tenant:ctl/err k: conflict: current version is 2\n");
  EXPECT_EQ(Run({"put", "tenant:ctl/err", "k", "3", "--expected-version=0"})
                .exit_code,
            5);

  CtlResult missing = Run({"get", "tenant:ctl/err", "nope"});
  EXPECT_EQ(missing.exit_code, 4);
  EXPECT_EQ(missing.err.rfind(
                "concordancectl: get tenant:ctl/err nope: not found: ", 0),
            0u)
      << missing.err;
  EXPECT_EQ(Run({"del", "tenant:ctl/err", "nope"}).exit_code, 4);

  CtlResult wrong_key = Run({"get", "tenant:ctl/err", "k", "--key=wrong"});
  EXPECT_EQ(wrong_key.exit_code, 3) << wrong_key.err;
  CtlResult no_key =
      RunCtl({Endpoints(*cluster_), "put", "tenant:ctl/err", "k", "4"});
  EXPECT_EQ(no_key.exit_code, 3) << no_key.err;
  CtlResult status_wrong_key = Run({"cluster", "status", "--key=wrong"});
  EXPECT_EQ(status_wrong_key.exit_code, 3) << "a refused key is not an outage: " << status_wrong_key.err;

  int unused = FreePort();
  CtlResult down = RunCtl({"--endpoints=127.0.0.1:" + std::to_string(unused),
                           "--timeout=500ms", "get", "tenant:ctl/err", "k"},
                          kKeyEnv);
  EXPECT_EQ(down.exit_code, 6) << down.err;
  EXPECT_NE(down.err.find("unavailable"), std::string::npos) << down.err;

  EXPECT_EQ(Run({"put", "tenant:ctl/err", "k", "not json"}).exit_code, 1);
}

TEST_F(CtlTest, UsageHelpAndVersion) {
  for (std::vector<std::string> bad : {
           std::vector<std::string>{"frobnicate"},
           {"get", "tenant:ctl/u"},                  // an operand missing
           {"get", "tenant:ctl/u", "k", "--ttl=5"},  // not get's flag
           {"get", "tenant:ctl/u", "k", "--no-such-flag"},
           {"member"},
           {"watch"},  // neither --namespace nor --tenant
           {"--key=a", "--api-key-file=/dev/null", "get", "tenant:ctl/u", "k"},
           {"--timeout=5", "get", "tenant:ctl/u", "k"},
           {"-o", "yaml", "get", "tenant:ctl/u", "k"},
       }) {
    CtlResult r = Run(bad);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(bad, " ") << ": " << r.err;
    EXPECT_EQ(r.err.rfind("concordancectl: ", 0), 0u) << r.err;
  }
  CtlResult help = RunCtl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* listed :
       {"get NS KEY", "put NS KEY VALUE", "del NS KEY", "ls NS [PREFIX]",
        "batch [FILE]", "watch", "changes", "snapshot save FILE",
        "snapshot restore", "cluster status", "member list", "member add",
        "member remove", "member transfer", "endpoint health", "--endpoints",
        "--api-key-file", "--timeout", "-o, --output"}) {
    EXPECT_NE(help.out.find(listed), std::string::npos) << listed;
  }
  CtlResult put_help = RunCtl({"help", "put"});
  EXPECT_EQ(put_help.exit_code, 0);
  EXPECT_NE(put_help.out.find("--expected-version=N"), std::string::npos)
      << put_help.out;
  EXPECT_EQ(RunCtl({"help", "frobnicate"}).exit_code, 2);
  CtlResult version = RunCtl({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("concordancectl " + Version(), 0), 0u)
      << version.out;
}

TEST_F(CtlTest, WatchPrintsAChangeWrittenByAnotherClient) {
  Ctl watch(kKeyEnv);
  ASSERT_TRUE(
      watch.Start({Endpoints(*cluster_, 1), "watch", "--namespace",
                   "tenant:ctl/watch", "--max-events=1", "-o", "json"}));
  // Subscribed once it says so: the change below comes after its start.
  ASSERT_TRUE(WaitFor(
      [&] {
        return watch.Err().find("watching namespace tenant:ctl/watch") !=
               std::string::npos;
      },
      std::chrono::seconds(10)))
      << watch.Err();
  HttpResult w = cluster_->Request(0, "PUT", "/api/v1/kv/tenant:ctl/watch/seen",
                                   "{\"value\":{\"n\":1}}");
  ASSERT_EQ(w.status, 200) << w.body;
  ASSERT_EQ(watch.Wait(std::chrono::seconds(10)), 0) << watch.Err();
  rapidjson::Document e = ParseJson(watch.Out());
  ASSERT_TRUE(e.IsObject()) << watch.Out();
  EXPECT_EQ(JsonString(e, "op"), "set");
  EXPECT_EQ(JsonString(e, "key"), "seen");
  EXPECT_EQ(JsonInt(e["value"], "n"), 1);
  EXPECT_EQ(JsonInt(e, "seq"), JsonInt(ParseJson(w.body), "seq"));

  // The same change in the changelog, as a line (polled: the first
  // endpoint may be a follower that has not applied it yet).
  std::string want = absl::StrCat(JsonInt(e, "seq"), " set tenant:ctl/watch seen v1 {\"n\":1}\n");
  CtlResult changes;
  EXPECT_TRUE(WaitFor(
      [&] {
        changes = Run({"changes", "--namespace=tenant:ctl/watch", "--since=0"});
        return changes.exit_code == 0 && changes.out == want;
      },
      std::chrono::seconds(5)))
      << changes.exit_code << " " << changes.err << changes.out;

  // --follow long-polls from --since for what comes next.
  Ctl follow(kKeyEnv);
  ASSERT_TRUE(follow.Start({Endpoints(*cluster_, 2), "changes",
                            "--namespace=tenant:ctl/watch",
                            "--since=" + std::to_string(JsonInt(e, "seq")),
                            "--follow", "--max-events=1"}));
  w = cluster_->Request(0, "DELETE", "/api/v1/kv/tenant:ctl/watch/seen");
  ASSERT_EQ(w.status, 200) << w.body;
  ASSERT_EQ(follow.Wait(std::chrono::seconds(10)), 0) << follow.Err();
  EXPECT_EQ(follow.Out(), absl::StrCat(JsonInt(ParseJson(w.body), "seq"),
                                       " delete tenant:ctl/watch seen v1\n"));
}

TEST_F(CtlTest, SnapshotSaveWritesABackupANewNodeRestores) {
  int leader = cluster_->WaitLeader();
  ASSERT_GE(leader, 0);
  ASSERT_EQ(Run({"put", "tenant:ctl/backup", "kept", "\"yes\""}).exit_code, 0);
  std::string file = MakeTempDir("backup") + "/state.db";
  // From the leader: it has applied every acknowledged write.
  CtlResult save = RunCtl({"--endpoints=" + cluster_->node(leader).address(),
                           "snapshot", "save", file},
                          kKeyEnv);
  ASSERT_EQ(save.exit_code, 0) << save.err;
  EXPECT_NE(save.err.find("snapshot: "), std::string::npos)
      << "a progress line";
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  ASSERT_TRUE(in.good());
  EXPECT_EQ(save.out,
            absl::StrCat("saved ", file, ": ", static_cast<int64_t>(in.tellg()),
                         " bytes, sha256 ", Sha256OfFile(file), "\n"));
  EXPECT_FALSE(std::ifstream(file + ".part").good());

  TestNode restored("ctl-restored");
  ASSERT_TRUE(restored.Start({"--bootstrap", "--restore=" + file}));
  ASSERT_TRUE(restored.WaitReady());
  HttpResult r =
      restored.http().Request("GET", "/api/v1/kv/tenant:ctl/backup/kept");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonString(ParseJson(r.body), "value"), "yes");
  restored.Stop();

  CtlResult how = RunCtl({"snapshot", "restore", file});
  EXPECT_EQ(how.exit_code, 0);
  EXPECT_NE(how.out.find("concordance --bootstrap --restore=" + file),
            std::string::npos);
}

// cluster status from one endpoint: the others are learned from its answer.
TEST(CtlClusterTest, ClusterStatusShowsEveryMemberAndNamesOneThatIsDown) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  std::string one = "--endpoints=" + c.node((leader + 1) % 3).address();
  CtlResult json = RunCtl({one, "cluster", "status", "-o", "json"}, kKeyEnv);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  rapidjson::Document d = ParseJson(json.out);
  ASSERT_TRUE(d.IsObject() && d["members"].IsArray()) << json.out;
  ASSERT_EQ(d["members"].Size(), 3u) << json.out;
  EXPECT_EQ(JsonString(d["leader"], "nodeId"), c.id(leader));
  int leaders = 0, followers = 0;
  for (const auto& m : d["members"].GetArray()) {
    leaders += JsonString(m, "role") == "leader";
    followers += JsonString(m, "role") == "follower";
    EXPECT_EQ(JsonString(m, "version"), Version()) << JsonString(m, "nodeId");
    EXPECT_TRUE(m["reachable"].GetBool());
    EXPECT_TRUE(m["lag"].IsUint64());
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(followers, 2);

  CtlResult table = RunCtl({one, "cluster", "status"}, kKeyEnv);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 4u) << table.out;
  EXPECT_EQ(lines[0].rfind("ID     ADDRESS", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("LAG  VERSION  REACHABLE"), std::string::npos)
      << lines[0];
  for (int i = 1; i < 4; ++i) {
    EXPECT_NE(lines[i].find(" " + Version() + "  "), std::string::npos)
        << lines[i];
  }

  CtlResult list = RunCtl({one, "member", "list", "-o", "json"}, kKeyEnv);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(ParseJson(list.out)["members"].Size(), 3u) << list.out;
  CtlResult health = RunCtl({Endpoints(c), "endpoint", "health"}, kKeyEnv);
  EXPECT_EQ(health.exit_code, 0) << health.out << health.err;
  EXPECT_EQ(Lines(health.out).size(), 4u) << health.out;

  int down = (leader + 2) % 3;
  c.node(down).Stop();
  CtlResult degraded = RunCtl({one, "cluster", "status"}, kKeyEnv);
  EXPECT_EQ(degraded.exit_code, 6) << degraded.out;
  EXPECT_NE(degraded.err.find(c.id(down) + " (" + c.node(down).address() +
                              ") unreachable"),
            std::string::npos)
      << degraded.err;
  EXPECT_EQ(Lines(degraded.out).size(), 4u)
      << "the member that is down keeps its row";
  EXPECT_EQ(RunCtl({Endpoints(c), "endpoint", "health"}, kKeyEnv).exit_code, 6);
}

TEST(CtlClusterTest, MembershipAndLeadershipThroughTheCli) {
  TestCluster c;
  ASSERT_TRUE(c.Start(3));
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  // Through a follower: the client library takes it to the leader.
  std::string via = Endpoints(c, (leader + 1) % 3);
  CtlResult moved = RunCtl({via, "member", "transfer"}, kKeyEnv);
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  int now = c.WaitLeader();
  ASSERT_GE(now, 0);
  EXPECT_NE(now, leader);
  EXPECT_EQ(moved.out,
            "leader: " + c.id(now) + " (" + c.node(now).address() + ")\n");

  CtlResult back = RunCtl({via, "member", "transfer", c.id(leader)}, kKeyEnv);
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(c.WaitLeader(), leader);

  // A member added by hand (nothing runs there) is a learner until removed.
  CtlResult added =
      RunCtl({via, "member", "add", "node9", "127.0.0.1:1"}, kKeyEnv);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_NE(added.out.find("node9  127.0.0.1:1"), std::string::npos)
      << added.out;
  EXPECT_NE(added.out.find("learner"), std::string::npos) << added.out;
  CtlResult removed =
      RunCtl({via, "member", "remove", "node9", "-o", "json"}, kKeyEnv);
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(ParseJson(removed.out)["members"].Size(), 3u) << removed.out;
  EXPECT_TRUE(c.WaitVoters(3));
}

}  // namespace
}  // namespace concordance::testing
