#include "gateway/raft_codec.h"

#include <google/protobuf/util/message_differencer.h>

#include "gtest/gtest.h"

namespace concordance::gateway {
namespace {

raft::Message RoundTrip(const raft::Message& m) {
  std::string binary;
  std::string json = EncodeRaftMessage(m, &binary);
  size_t len = 0;
  absl::StatusOr<raft::Message> d = DecodeRaftMessage(json, &len);
  EXPECT_TRUE(d.ok()) << d.status() << "\n" << json;
  EXPECT_EQ(len, binary.size());
  if (len > 0) d->mutable_install_snapshot()->set_data(binary);
  return d.ok() ? *d : raft::Message();
}

void ExpectSame(const raft::Message& m) {
  raft::Message back = RoundTrip(m);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(m, back))
      << m.DebugString() << "\nvs\n" << back.DebugString();
}

raft::Message Base(const char* from = "n1") {
  raft::Message m;
  m.set_from(from);
  m.set_to("n2");
  m.set_term(7);
  return m;
}

TEST(RaftCodecTest, EveryMessageTypeRoundTrips) {
  raft::Message v = Base();
  v.mutable_request_vote()->set_last_log_index(10);
  v.mutable_request_vote()->set_last_log_term(6);
  v.mutable_request_vote()->set_pre_vote(true);
  ExpectSame(v);
  raft::Message vr = Base();
  vr.mutable_request_vote_response()->set_granted(true);
  ExpectSame(vr);
  raft::Message a = Base();
  auto* ae = a.mutable_append_entries();
  ae->set_prev_log_index(9);
  ae->set_prev_log_term(6);
  ae->set_leader_commit(8);
  for (int i = 0; i < 3; ++i) {
    raft::LogEntry* e = ae->add_entries();
    e->set_index(10 + i);
    e->set_term(7);
    e->set_type(i == 0 ? raft::NOOP : raft::COMMAND);
    e->set_data(std::string("\x00\xff binary", 9));
  }
  ExpectSame(a);
  raft::Message hb = Base();
  hb.mutable_append_entries()->set_heartbeat(true);
  hb.mutable_append_entries()->set_read_round(4);
  ExpectSame(hb);
  raft::Message ar = Base();
  ar.mutable_append_entries_response()->set_conflict_index(3);
  ar.mutable_append_entries_response()->set_conflict_term(2);
  ar.mutable_append_entries_response()->set_rejected_index(9);
  ar.mutable_append_entries_response()->set_last_log_index(5);
  ExpectSame(ar);
  raft::Message s = Base();
  auto* is = s.mutable_install_snapshot();
  is->mutable_meta()->set_index(100);
  is->mutable_meta()->set_term(5);
  is->mutable_meta()->set_size(3);
  is->mutable_meta()->set_checksum(0xfedcba9876543210ULL);
  raft::Member* m1 = is->mutable_meta()->mutable_conf_state()->add_voters();
  m1->set_node_id("n1");
  m1->set_address("127.0.0.1:1");
  is->set_offset(0);
  is->set_done(true);
  is->set_data("abc");
  ExpectSame(s);
  raft::Message sr = Base();
  sr.mutable_install_snapshot_response()->set_next_offset(3);
  ExpectSame(sr);
  raft::Message t = Base();
  t.mutable_timeout_now();
  ExpectSame(t);
  raft::Message ri = Base();
  ri.mutable_read_index_request()->set_request_id(5);
  ExpectSame(ri);
  raft::Message rr = Base();
  rr.mutable_read_index_response()->set_index(77);
  ExpectSame(rr);
}

TEST(RaftCodecTest, SnapshotBytesTravelOutsideTheJson) {
  raft::Message s = Base();
  s.mutable_install_snapshot()->set_data(std::string(1000, 'z'));
  std::string binary;
  std::string json = EncodeRaftMessage(s, &binary);
  EXPECT_EQ(binary.size(), 1000u);
  EXPECT_EQ(json.find("zzz"), std::string::npos);
  EXPECT_NE(json.find("\"dataLength\":1000"), std::string::npos);
}

TEST(RaftCodecTest, MalformedInputIsRejected) {
  size_t len;
  for (const char* bad : {"", "[]", "{", "{\"type\":\"vote\"}",
                          "{\"from\":\"a\",\"to\":\"b\",\"term\":\"x\",\"type\":\"vote\"}",
                          "{\"from\":\"a\",\"to\":\"b\",\"term\":1,\"type\":\"nope\"}",
                          "{\"from\":\"a\",\"to\":\"b\",\"term\":1,\"type\":\"app\",\"entries\":[[1,2,9,\"\"]]}",
                          "{\"from\":\"a\",\"to\":\"b\",\"term\":1,\"type\":\"app\",\"entries\":[[1,2,0,\"!!\"]]}",
                          "{\"from\":\"a\",\"to\":\"b\",\"term\":1,\"type\":\"snap\"}"}) {
    EXPECT_FALSE(DecodeRaftMessage(bad, &len).ok()) << bad;
  }
}

}  // namespace
}  // namespace concordance::gateway
