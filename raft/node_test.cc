// Scenario tests for the Raft core. Each names the section of the Raft paper
// (Ongaro & Ousterhout 2014) or Ongaro's thesis (2014) whose rule it checks,
// scripting the exact sequence of events on a hand-driven network.
#include "raft/node.h"

#include "gtest/gtest.h"
#include "raft/testing/cluster.h"

namespace concordance::raft {
namespace {

using testing::Cluster;

void Classic(Config& c) {
  c.pre_vote = false;
  c.check_quorum = false;
}

// ---- §5.2 Leader election ----

TEST(ElectionTest, Sec5_2_SingleNodeElectsItselfAndCommits) {
  Cluster c(1);
  ASSERT_TRUE(c.Elect("n1"));
  EXPECT_EQ(c.node("n1").term(), 2u);
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());
  EXPECT_EQ(c.node("n1").commit_index(), 3u);  // config, noop, a=1
  EXPECT_EQ(c.host("n1").state().data().at("a"), "1");
}

TEST(ElectionTest, Sec5_2_ThreeNodesAgreeOnOneLeader) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  for (const std::string& id : {"n2", "n3"}) {
    EXPECT_EQ(c.node(id).role(), Role::kFollower);
    EXPECT_EQ(c.node(id).leader(), "n1");
    EXPECT_EQ(c.node(id).term(), c.node("n1").term());
  }
  // The leader's noop commits everywhere.
  c.TickAll(3);
  for (const std::string& id : c.ids()) EXPECT_EQ(c.node(id).commit_index(), 2u) << id;
}

TEST(ElectionTest, Sec5_2_VoteIsDurableAcrossRestart) {
  Cluster c(3, Classic);
  // n2 campaigns; n1 grants its vote, persists it, then crashes.
  c.Isolate("n3");
  ASSERT_TRUE(c.Elect("n2"));
  uint64_t term = c.node("n2").term();
  EXPECT_EQ(c.node("n1").voted_for(), "n2");
  c.Crash("n1");
  c.Restart("n1");
  EXPECT_EQ(c.node("n1").term(), term);
  EXPECT_EQ(c.node("n1").voted_for(), "n2");
  // A different candidate in the same term is refused.
  Message rv;
  rv.set_from("n3");
  rv.set_to("n1");
  rv.set_term(term);
  rv.mutable_request_vote()->set_last_log_index(100);
  rv.mutable_request_vote()->set_last_log_term(100);
  c.node("n1").Step(rv);
  c.FlushReadys();
  bool refused = false;
  for (const Message& m : c.queue()) {
    if (m.to() == "n3" && m.has_request_vote_response()) {
      refused = !m.request_vote_response().granted();
    }
  }
  EXPECT_TRUE(refused);
}

// ---- §5.4.1 Election restriction ----

TEST(SafetyTest, Sec5_4_1_VoterRejectsCandidateWithStalerLog) {
  Cluster c(3, Classic);
  ASSERT_TRUE(c.Elect("n1"));
  c.Cut("n1", "n3");
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());  // n1, n2 have it; n3 does not
  c.Crash("n1");
  c.Heal();
  // n3 campaigns first but n2's log is more up to date: n2 refuses.
  for (int i = 0; i < 100 && c.node("n3").role() == Role::kFollower; ++i) c.Tick("n3");
  c.Stabilize();
  EXPECT_NE(c.node("n3").role(), Role::kLeader);
  ASSERT_TRUE(c.Elect("n2"));
  EXPECT_EQ(c.host("n2").state().data().count("a"), 1u);
}

// ---- §5.3 Log replication: repairing a divergent follower ----

TEST(ReplicationTest, Sec5_3_DivergentFollowerIsRepaired) {
  Cluster c(3, Classic);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  // n1 appends entries nobody else receives, then loses leadership.
  c.Isolate("n1");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.node("n1").Propose("lost=" + std::to_string(i)).ok());
  c.Stabilize();
  ASSERT_TRUE(c.Elect("n2"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose("n2", "kept=" + std::to_string(i)).ok());
  c.Heal();
  c.TickAll(5);
  // n1 stepped down and its uncommitted suffix was replaced by n2's log.
  EXPECT_EQ(c.node("n1").role(), Role::kFollower);
  EXPECT_EQ(c.node("n1").last_index(), c.node("n2").last_index());
  EXPECT_EQ(c.host("n1").state().data().count("lost"), 0u);
  EXPECT_EQ(c.host("n1").state().data().at("kept"), "4");
  EXPECT_EQ(c.host("n1").state().Hash(), c.host("n2").state().Hash());
}

TEST(ReplicationTest, Sec5_3_FastBacktrackingSkipsWholeTerms) {
  Cluster c(3, [](Config& cfg) {
    Classic(cfg);
    cfg.max_entries_per_append = 1000;
  });
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Isolate("n3");
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(c.node("n1").Propose("k=" + std::to_string(i)).ok());
  c.Stabilize();
  int rejections = 0;
  c.SetDropFilter([&](const Message& m) {
    if (m.has_append_entries_response() && !m.append_entries_response().success()) ++rejections;
    return false;
  });
  c.Heal();
  c.TickAll(3);
  EXPECT_EQ(c.node("n3").last_index(), c.node("n1").last_index());
  // One rejection tells the leader where n3's log ends; no walk back entry
  // by entry through 200 indexes.
  EXPECT_LE(rejections, 2);
}

// ---- §5.4.2 Committing entries from previous terms (Figure 8) ----

// Drops every append from `from` that carries an entry of term `term` and
// that its receiver would accept (so rejections still flow and steer the
// leader back to earlier entries).
std::function<bool(const Message&)> DropAcceptedEntriesOfTerm(Cluster* c, const std::string& from,
                                                              uint64_t term) {
  return [c, from, term](const Message& m) {
    if (m.from() != from || !m.has_append_entries()) return false;
    const AppendEntries& ae = m.append_entries();
    bool carries = false;
    for (const LogEntry& e : ae.entries()) carries |= e.term() == term;
    if (!carries || !c->host(m.to()).up()) return false;
    return c->node(m.to()).log().MatchTerm(ae.prev_log_index(), ae.prev_log_term());
  };
}

TEST(SafetyTest, Sec5_4_2_Figure8_OldTermEntryOnMajorityIsNotCommitted) {
  Cluster c(5, [](Config& cfg) {
    Classic(cfg);
    cfg.max_entries_per_append = 1;
  });
  // (a) n1 leads term 2 and replicates index 3 only to n2.
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_EQ(c.node("n1").commit_index(), 2u);
  for (const char* id : {"n3", "n4", "n5"}) c.Cut("n1", id);
  ASSERT_TRUE(c.Propose("n1", "x=term2").ok());
  EXPECT_EQ(c.node("n2").last_index(), 3u);
  // (b) n1 crashes; n5 wins term 3 with n3 and n4, appends index 3 locally.
  c.Crash("n1");
  c.Heal();
  c.SetDropFilter([](const Message& m) { return m.from() == "n5" && m.has_append_entries(); });
  ASSERT_TRUE(c.Elect("n5"));
  EXPECT_EQ(c.node("n5").term(), 3u);
  EXPECT_EQ(c.node("n5").last_index(), 3u);
  // (c) n5 crashes; n1 restarts and wins term 4; its term-2 entry at index 3
  // reaches n3, so it sits on a majority (n1, n2, n3) — but no entry of
  // term 4 does.
  c.Crash("n5");
  c.Restart("n1");
  c.SetDropFilter(DropAcceptedEntriesOfTerm(&c, "n1", 4));
  c.Cut("n1", "n4");
  ASSERT_TRUE(c.Elect("n1"));
  EXPECT_EQ(c.node("n1").term(), 4u);
  c.TickAll(3);
  EXPECT_TRUE(c.node("n3").log().MatchTerm(3, 2));
  // Figure 8's rule: a replica count for an old-term entry commits nothing.
  EXPECT_EQ(c.node("n1").commit_index(), 2u);
  for (const std::string& id : {"n2", "n3"}) EXPECT_LE(c.node(id).commit_index(), 2u);
  // (d) n1 crashes; n5 restarts and wins term 5 with n2, n3, n4 — and
  // overwrites index 3 everywhere. Nothing committed was lost.
  c.Crash("n1");
  c.Restart("n5");
  c.Heal();
  c.SetDropFilter(nullptr);
  ASSERT_TRUE(c.Elect("n5"));
  c.TickAll(3);
  for (const std::string& id : {"n2", "n3", "n4"}) {
    EXPECT_TRUE(c.node(id).log().MatchTerm(3, 3)) << id;
    EXPECT_GE(c.node(id).commit_index(), 3u) << id;
  }
}

TEST(SafetyTest, Sec5_4_2_OldEntryCommitsWithAnEntryOfTheCurrentTerm) {
  Cluster c(5, [](Config& cfg) {
    Classic(cfg);
    cfg.max_entries_per_append = 1;
  });
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  for (const char* id : {"n3", "n4", "n5"}) c.Cut("n1", id);
  ASSERT_TRUE(c.Propose("n1", "x=term2").ok());
  c.Crash("n1");
  c.Restart("n1");
  c.Heal();
  c.Crash("n5");
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(3);
  // Once the term-4 noop is on a majority, index 3 commits with it.
  EXPECT_GE(c.node("n1").commit_index(), 4u);
  EXPECT_EQ(c.host("n1").state().data().at("x"), "term2");
}

// ---- Thesis §9.6: pre-vote and check-quorum during partitions ----

TEST(PartitionTest, Sec9_6_PreVoteKeepsAnIsolatedFollowerFromRaisingItsTerm) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  uint64_t term = c.node("n1").term();
  c.Isolate("n3");
  for (int i = 0; i < 200; ++i) c.TickAll();
  EXPECT_EQ(c.node("n3").term(), term);  // pre-votes never succeed
  EXPECT_NE(c.node("n3").role(), Role::kLeader);
  c.Heal();
  c.TickAll(5);
  // Rejoining disrupts nothing: same leader, same term.
  EXPECT_EQ(c.Leader(), "n1");
  EXPECT_EQ(c.node("n1").term(), term);
  EXPECT_EQ(c.node("n3").leader(), "n1");
}

TEST(PartitionTest, Sec9_6_WithoutPreVoteTheRejoiningNodeDisrupts) {
  // The control experiment for the test above.
  Cluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  uint64_t term = c.node("n1").term();
  c.Isolate("n3");
  for (int i = 0; i < 200; ++i) c.TickAll();
  EXPECT_GT(c.node("n3").term(), term + 3);
  c.Heal();
  c.TickAll(50);
  EXPECT_GT(c.node(c.Leader()).term(), term);
}

TEST(PartitionTest, Sec6_2_CheckQuorumMakesAnIsolatedLeaderStepDown) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Isolate("n1");
  for (int i = 0; i < 60; ++i) c.TickAll();
  EXPECT_NE(c.node("n1").role(), Role::kLeader);
  std::string leader = c.Leader();
  EXPECT_TRUE(leader == "n2" || leader == "n3") << leader;
  // The old leader cannot accept writes any more.
  EXPECT_FALSE(c.node("n1").Propose("x=1").ok());
}

TEST(PartitionTest, Sec9_6_LeaderIgnoresVotesWhileActive) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  uint64_t term = c.node("n1").term();
  // A vote request at a higher term, without a transfer flag, while n1 and
  // n2 hear from the leader: ignored by both.
  for (const char* to : {"n1", "n2"}) {
    Message rv;
    rv.set_from("n3");
    rv.set_to(to);
    rv.set_term(term + 5);
    rv.mutable_request_vote()->set_last_log_index(1000);
    rv.mutable_request_vote()->set_last_log_term(term + 5);
    c.node(to).Step(rv);
  }
  EXPECT_EQ(c.node("n1").role(), Role::kLeader);
  EXPECT_EQ(c.node("n1").term(), term);
  EXPECT_EQ(c.node("n2").term(), term);
}

TEST(PartitionTest, Sec5_1_StaleLeaderStepsDownWhenItHearsANewerTerm) {
  Cluster c(3, Classic);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Isolate("n1");
  ASSERT_TRUE(c.node("n1").Propose("stale=1").ok());
  c.Stabilize();
  ASSERT_TRUE(c.Elect("n2"));
  EXPECT_EQ(c.node("n1").role(), Role::kLeader);  // it does not know yet
  c.Heal();
  c.TickAll(3);
  EXPECT_EQ(c.node("n1").role(), Role::kFollower);
  EXPECT_EQ(c.host("n1").state().data().count("stale"), 0u);
}

// ---- Thesis §3.10 Leadership transfer ----

TEST(TransferTest, Sec3_10_TransferToUpToDateFollower) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  uint64_t term = c.node("n1").term();
  ASSERT_TRUE(c.node("n1").TransferLeadership("n2").ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), "n2");
  EXPECT_EQ(c.node("n2").term(), term + 1);
  EXPECT_EQ(c.node("n1").role(), Role::kFollower);
}

TEST(TransferTest, Sec3_10_TransferToLaggingFollowerCatchesItUpFirst) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Cut("n1", "n3");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose("n1", "k=" + std::to_string(i)).ok());
  EXPECT_LT(c.node("n3").last_index(), c.node("n1").last_index());
  c.Heal();
  ASSERT_TRUE(c.node("n1").TransferLeadership("n3").ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), "n3");
  EXPECT_EQ(c.host("n3").state().data().at("k"), "9");
}

TEST(TransferTest, Sec3_10_ProposalsRefusedDuringTransferAndAbortAfterTimeout) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Crash("n3");
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());  // n3 lags
  ASSERT_TRUE(c.node("n1").TransferLeadership("n3").ok());
  EXPECT_EQ(c.node("n1").Propose("b=2").status().code(), absl::StatusCode::kFailedPrecondition);
  // n3 never answers: after an election timeout the transfer is abandoned.
  for (int i = 0; i < 12; ++i) c.TickAll();
  EXPECT_EQ(c.node("n1").role(), Role::kLeader);
  EXPECT_TRUE(c.node("n1").lead_transferee().empty());
  EXPECT_TRUE(c.node("n1").Propose("b=2").ok());
}

TEST(TransferTest, Sec3_10_TransferWithNoTargetPicksMostCaughtUpVoter) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Cut("n1", "n2");
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());
  ASSERT_TRUE(c.node("n1").TransferLeadership("").ok());
  EXPECT_EQ(c.node("n1").lead_transferee(), "n3");
}

TEST(TransferTest, Sec3_10_ATransferToTheLeaderItselfAbortsOneInProgress) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Crash("n3");
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());  // n3 lags: the transfer waits for it
  ASSERT_TRUE(c.node("n1").TransferLeadership("n3").ok());
  EXPECT_EQ(c.node("n1").lead_transferee(), "n3");
  ASSERT_TRUE(c.node("n1").TransferLeadership("n1").ok());
  EXPECT_TRUE(c.node("n1").lead_transferee().empty()) << "n1 stays leader: nothing moves to n3";
  EXPECT_TRUE(c.node("n1").Propose("b=2").ok());
}

// ---- Thesis §4 Membership changes ----

Member M(const std::string& id) {
  Member m;
  m.set_node_id(id);
  m.set_address(id + ":4100");
  return m;
}

TEST(MembershipTest, Sec4_2_1_LearnerCatchesUpAndIsPromoted) {
  Cluster c(3, [](Config& cfg) { cfg.snapshot_threshold = 5; });
  ASSERT_TRUE(c.Elect("n1"));
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(c.Propose("n1", "k=" + std::to_string(i)).ok());
  c.AddHost("n4").Start();
  EXPECT_FALSE(c.node("n4").IsVoter("n4"));
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n4")).ok());
  c.Stabilize();
  EXPECT_TRUE(c.node("n1").IsMember("n4"));
  EXPECT_FALSE(c.node("n1").IsVoter("n4"));
  c.TickAll(10);  // heartbeats: n4 catches up (by snapshot) and is promoted
  EXPECT_TRUE(c.node("n1").IsVoter("n4"));
  EXPECT_TRUE(c.node("n4").IsVoter("n4"));
  EXPECT_EQ(c.host("n4").state().data().at("k"), "11");
  // With 4 voters a write needs 3: n1 plus two of the others.
  c.Crash("n2");
  c.Crash("n3");
  ASSERT_TRUE(c.Propose("n1", "after=1").ok());
  EXPECT_EQ(c.host("n1").state().data().count("after"), 0u);  // not committed
  c.Restart("n2");
  c.TickAll(5);
  EXPECT_EQ(c.host("n1").state().data().at("after"), "1");
}

TEST(MembershipTest, Sec4_1_RemoveFollower) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::REMOVE, M("n3")).ok());
  c.Stabilize();
  EXPECT_FALSE(c.node("n1").IsMember("n3"));
  // Two voters left: n1 and n2 commit without n3.
  c.Crash("n3");
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());
  EXPECT_EQ(c.host("n2").state().data().at("a"), "1");
}

TEST(MembershipTest, Sec4_2_2_RemovedLeaderStepsDownAfterCommit) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::REMOVE, M("n1")).ok());
  // Still leader until the removal commits and applies.
  EXPECT_EQ(c.node("n1").role(), Role::kLeader);
  c.Stabilize();
  EXPECT_EQ(c.node("n1").role(), Role::kFollower);
  std::string leader = c.Leader();
  EXPECT_TRUE(leader == "n2" || leader == "n3") << leader;
  ASSERT_TRUE(c.Propose(leader, "a=1").ok());
  EXPECT_FALSE(c.node(leader).IsMember("n1"));
}

TEST(MembershipTest, Sec4_1_OneChangeAtATime) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.AddHost("n4").Start();
  c.AddHost("n5").Start();
  c.Cut("n1", "n2");
  c.Cut("n1", "n3");  // the first change cannot commit
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n4")).ok());
  auto second = c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n5"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  c.Heal();
  c.Stabilize();
  EXPECT_TRUE(c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n5")).ok());
}

TEST(MembershipTest, Sec4_Ongaro2015_NoChangeBeforeTheLeaderCommitsInItsTerm) {
  // Ongaro's raft-dev fix (2015): a new leader must commit an entry of its
  // own term before it may propose a configuration change.
  Cluster c(3);
  c.SetDropFilter([](const Message& m) { return m.from() == "n1" && m.has_append_entries(); });
  ASSERT_TRUE(c.Elect("n1"));
  ASSERT_FALSE(c.node("n1").CommittedInCurrentTerm());
  c.AddHost("n4").Start();
  auto early = c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n4"));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  c.SetDropFilter(nullptr);
  c.TickAll(2);
  ASSERT_TRUE(c.node("n1").CommittedInCurrentTerm());
  EXPECT_TRUE(c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n4")).ok());
}

TEST(MembershipTest, Sec4_InvalidChangesAreRefused) {
  Cluster c(1);
  ASSERT_TRUE(c.Elect("n1"));
  EXPECT_EQ(c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n1")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.node("n1").ProposeConfChange(ConfChange::REMOVE, M("n9")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(c.node("n1").ProposeConfChange(ConfChange::REMOVE, M("n1")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Thesis §6.4 Linearizable reads with ReadIndex ----

TEST(ReadIndexTest, Sec6_4_LeaderConfirmsWithAQuorumBeforeAnswering) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());
  uint64_t commit = c.node("n1").commit_index();
  c.Cut("n2", "n1");
  c.Cut("n3", "n1");  // no heartbeat answers reach n1
  c.node("n1").ReadIndex(7);
  c.Stabilize();
  EXPECT_TRUE(c.reads["n1"].empty()) << "answered without a quorum";
  c.Heal();
  c.TickAll(2);  // the next heartbeat round carries the read
  ASSERT_EQ(c.reads["n1"].size(), 1u);
  EXPECT_TRUE(c.reads["n1"][0].ok);
  EXPECT_EQ(c.reads["n1"][0].request_id, 7u);
  EXPECT_EQ(c.reads["n1"][0].index, commit);
}

TEST(ReadIndexTest, Sec6_4_FollowerReadGoesThroughTheLeader) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());
  c.node("n2").ReadIndex(9);
  c.Stabilize();
  ASSERT_EQ(c.reads["n2"].size(), 1u);
  EXPECT_TRUE(c.reads["n2"][0].ok);
  EXPECT_EQ(c.reads["n2"][0].index, c.node("n1").commit_index());
}

TEST(ReadIndexTest, Sec6_4_NewLeaderWaitsForItsFirstCommit) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());
  uint64_t written = c.node("n1").commit_index();
  c.Crash("n1");
  // n2 wins, but its noop cannot commit yet.
  c.SetDropFilter([](const Message& m) { return m.from() == "n2" && m.has_append_entries(); });
  for (int i = 0; i < 200 && c.node("n2").role() != Role::kLeader; ++i) {
    c.TickAll();
  }
  ASSERT_EQ(c.node("n2").role(), Role::kLeader);
  c.node("n2").ReadIndex(11);
  c.Stabilize();
  EXPECT_TRUE(c.reads["n2"].empty());
  c.SetDropFilter(nullptr);
  c.TickAll(3);
  ASSERT_EQ(c.reads["n2"].size(), 1u);
  EXPECT_TRUE(c.reads["n2"][0].ok);
  EXPECT_GT(c.reads["n2"][0].index, written);  // at least the noop
}

TEST(ReadIndexTest, Sec6_4_DeposedLeaderFailsItsPendingReads) {
  Cluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Isolate("n1");
  c.node("n1").ReadIndex(5);
  for (int i = 0; i < 60; ++i) c.TickAll();  // check-quorum: n1 steps down
  ASSERT_EQ(c.reads["n1"].size(), 1u);
  EXPECT_FALSE(c.reads["n1"][0].ok);
}

// ---- §7 Log compaction: snapshots in chunks ----

TEST(SnapshotTest, Sec7_FollowerBehindCompactionGetsChunkedSnapshot) {
  Cluster c(3, [](Config& cfg) {
    cfg.snapshot_threshold = 5;
    cfg.snapshot_chunk_bytes = 16;
  });
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Crash("n3");
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.Propose("n1", "key" + std::to_string(i % 4) + "=" + std::to_string(i)).ok());
  ASSERT_GT(c.host("n1").snapshots_taken(), 0);
  ASSERT_GT(c.host("n1").store().FirstIndex(), 2u);  // compacted
  int chunks = 0;
  c.SetDropFilter([&](const Message& m) {
    if (m.has_install_snapshot()) ++chunks;
    return false;
  });
  c.Restart("n3");
  c.TickAll(10);
  EXPECT_GT(chunks, 2);
  EXPECT_EQ(c.host("n3").state().data(), c.host("n1").state().data());
  EXPECT_GE(c.host("n3").store().snapshot_meta().index(), 5u);
  // And it keeps replicating normally afterwards.
  ASSERT_TRUE(c.Propose("n1", "after=1").ok());
  EXPECT_EQ(c.host("n3").state().data().at("after"), "1");
}

TEST(SnapshotTest, Sec7_RestartFromCompactedLogKeepsConfigAndState) {
  Cluster c(3, [](Config& cfg) { cfg.snapshot_threshold = 4; });
  ASSERT_TRUE(c.Elect("n1"));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Propose("n1", "k=" + std::to_string(i)).ok());
  for (const std::string& id : c.ids()) c.Crash(id);
  for (const std::string& id : c.ids()) c.Restart(id);
  EXPECT_TRUE(c.node("n2").IsVoter("n1"));
  EXPECT_EQ(c.node("n2").conf_state().voters_size(), 3);
  for (int i = 0; i < 300 && c.Leader().empty(); ++i) c.TickAll();
  ASSERT_FALSE(c.Leader().empty());
  ASSERT_TRUE(c.Propose(c.Leader(), "k=after").ok());
  for (const std::string& id : c.ids()) EXPECT_EQ(c.host(id).state().data().at("k"), "after") << id;
}

// ---- Persistence contract ----

TEST(PersistenceTest, LeaderCountsItsOwnEntriesOnlyOnceDurable) {
  Cluster c(1);
  ASSERT_TRUE(c.Elect("n1"));
  Node& n = c.node("n1");
  ASSERT_TRUE(n.Propose("a=1").ok());
  uint64_t index = n.last_index();
  Ready rd = n.GetReady();
  ASSERT_FALSE(rd.entries.empty());
  // Before Advance() says the entry is durable, it is not committed.
  EXPECT_LT(n.commit_index(), index);
  ASSERT_TRUE(c.host("n1").store().Save(nullptr, rd.entries, nullptr).ok());
  n.Advance();
  EXPECT_EQ(n.commit_index(), index);
}

// A sole voter elects itself without sending a vote request, so nothing has
// made its new term durable yet: its appends to a learner must wait for the
// Ready that persists the term. Sent early, a crash before that fsync could
// let it lead the same term again with a different log, and the learner would
// keep the first one.
TEST(PersistenceTest, SoleVoterSendsNothingInANewTermBeforeTheTermIsDurable) {
  Cluster c(1);
  ASSERT_TRUE(c.Elect("n1"));
  c.AddHost("n2").Start();
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n2")).ok());
  c.Stabilize();
  ASSERT_TRUE(c.node("n1").IsMember("n2"));
  ASSERT_FALSE(c.node("n1").IsVoter("n2"));
  c.Crash("n1");
  c.Restart("n1");
  Node& n = c.node("n1");
  uint64_t old_term = n.term();
  n.CampaignNow();
  ASSERT_EQ(n.role(), Role::kLeader);
  ASSERT_GT(n.term(), old_term);
  EXPECT_TRUE(n.TakeLeaderMessages().empty());
  Ready rd = n.GetReady();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term(), n.term());
  EXPECT_TRUE(rd.leader_messages.empty());
  bool append_after_persist = false;
  for (const Message& m : rd.messages) {
    append_after_persist |= m.to() == "n2" && m.term() == n.term();
  }
  EXPECT_TRUE(append_after_persist) << "the learner's append should ride with the Ready";
  ASSERT_TRUE(c.host("n1").store().Save(&*rd.hard_state, rd.entries, nullptr).ok());
  n.Advance();
  // Once the term is durable, the fast path is open again: the next
  // heartbeat to the learner goes out at once.
  bool fast = false;
  for (int i = 0; i < 10 && !fast; ++i) {
    n.Tick();
    for (const Message& m : n.TakeLeaderMessages()) fast |= m.to() == "n2";
  }
  EXPECT_TRUE(fast);
}

TEST(PersistenceTest, AConfigurationEntryIsAppliedOnlyWithItsCommitIndexMadeDurable) {
  // The Ready that applies a CONFIG entry must sync a commit index covering
  // it: a restart takes the configuration from the durable commit (or the
  // state machine's applied index, which a power loss can roll back).
  Cluster c(1);
  ASSERT_TRUE(c.Elect("n1"));
  Node& n = c.node("n1");
  auto r = n.ProposeConfChange(ConfChange::ADD_LEARNER, M("n2"));
  ASSERT_TRUE(r.ok());
  uint64_t conf_index = r->first;
  bool seen = false;
  for (int i = 0; i < 10 && !seen && n.HasReady(); ++i) {
    Ready rd = n.GetReady();
    for (const LogEntry& e : rd.committed_entries) seen |= e.index() == conf_index;
    if (seen) {
      EXPECT_TRUE(rd.must_sync);
      ASSERT_TRUE(rd.hard_state.has_value());
      EXPECT_GE(rd.hard_state->commit(), conf_index);
    }
    ASSERT_TRUE(c.host("n1")
                    .store()
                    .Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                          rd.conf_state ? &*rd.conf_state : nullptr)
                    .ok());
    n.Advance();
  }
  ASSERT_TRUE(seen) << "the configuration entry was never applied";
  // Restarted with the state machine from before the change, the node
  // still comes back in the configuration it acted on.
  Config cfg = c.host("n1").config();
  cfg.applied = conf_index - 1;
  Node restarted(cfg, &c.host("n1").store());
  EXPECT_TRUE(restarted.IsMember("n2"));
}

TEST(PersistenceTest, CrashBeforePersistingLosesOnlyUnacknowledgedEntries) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_TRUE(c.Propose("n1", "acked=1").ok());
  // Proposed but the Ready is never handled: crash.
  ASSERT_TRUE(c.node("n1").Propose("unacked=1").ok());
  c.Crash("n1");
  c.Restart("n1");
  EXPECT_EQ(c.host("n1").state().data().at("acked"), "1");
  for (int i = 0; i < 300 && c.Leader().empty(); ++i) c.TickAll();
  c.TickAll(5);
  for (const std::string& id : c.ids()) {
    EXPECT_EQ(c.host(id).state().data().count("unacked"), 0u) << id;
    EXPECT_EQ(c.host(id).state().data().at("acked"), "1") << id;
  }
}

}  // namespace
}  // namespace concordance::raft

namespace concordance::raft {
namespace {

// ---- Hardening (issue 10) ----

TEST(HardeningTest, TermsAndIndexesAtOrBeyond2To62AreDropped) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  uint64_t term = c.node("n2").term();
  for (uint64_t absurd : {~uint64_t{0}, kMaxTermOrIndex}) {
    Message hb;
    hb.set_from("n1");
    hb.set_to("n2");
    hb.set_term(absurd);
    hb.mutable_append_entries()->set_heartbeat(true);
    c.node("n2").Step(hb);
    Message app;
    app.set_from("n1");
    app.set_to("n2");
    app.set_term(term);
    app.mutable_append_entries()->set_prev_log_index(absurd);
    c.node("n2").Step(app);
  }
  c.FlushReadys();
  EXPECT_EQ(c.node("n2").term(), term);
  EXPECT_EQ(c.node("n2").leader(), "n1");
  ASSERT_TRUE(c.Propose("n1", "a=1").ok());
  EXPECT_EQ(c.host("n2").state().data().at("a"), "1");
}

TEST(SnapshotTest, Sec7_AnImageTheValidatorRefusesIsAskedForAgainAndTheLogKept) {
  int refusals = 0;
  Cluster c(3, [&](Config& cfg) {
    cfg.snapshot_threshold = 5;
    cfg.validate_snapshot = [&](const SnapshotMeta&, const std::string&) {
      if (refusals >= 2) return absl::OkStatus();
      ++refusals;
      return absl::InvalidArgumentError("refused for the test");
    };
  });
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Crash("n3");
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.Propose("n1", "k" + std::to_string(i % 4) + "=" + std::to_string(i)).ok());
  ASSERT_GT(c.host("n1").store().FirstIndex(), 2u);  // compacted
  c.Restart("n3");
  uint64_t before = c.host("n3").store().snapshot_meta().index();
  c.TickAll(5);
  EXPECT_EQ(refusals, 1);  // refused, unanswered: the leader waits before asking again
  EXPECT_EQ(c.host("n3").store().snapshot_meta().index(), before);
  c.TickAll(100);  // two idle resends
  EXPECT_EQ(refusals, 2);
  EXPECT_EQ(c.host("n3").state().data(), c.host("n1").state().data());
  EXPECT_GT(c.host("n3").store().snapshot_meta().index(), before);
}

TEST(SnapshotTest, Sec7_ASnapshotOverTheSizeLimitIsNotBuffered) {
  Cluster c(3, [](Config& cfg) {
    cfg.snapshot_threshold = 5;
    cfg.max_snapshot_bytes = 8;  // smaller than any image
  });
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  c.Crash("n3");
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.Propose("n1", "k" + std::to_string(i % 4) + "=" + std::to_string(i)).ok());
  c.Restart("n3");
  uint64_t before = c.host("n3").store().snapshot_meta().index();
  c.TickAll(5);
  EXPECT_EQ(c.host("n3").store().snapshot_meta().index(), before);
  EXPECT_NE(c.host("n3").state().data(), c.host("n1").state().data());
}

TEST(MembershipTest, Sec4_1_RemovedIdsAreRecordedUntilAddedBack) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::REMOVE, M("n3")).ok());
  c.Stabilize();
  ASSERT_EQ(c.node("n2").conf_state().removed_size(), 1);
  EXPECT_EQ(c.node("n2").conf_state().removed(0), "n3");
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::ADD_LEARNER, M("n3")).ok());
  c.Stabilize();
  EXPECT_EQ(c.node("n2").conf_state().removed_size(), 0);
  EXPECT_TRUE(c.node("n2").IsMember("n3"));
}

TEST(MembershipTest, Sec4_UpdateAddressChangesOnlyTheAddress) {
  Cluster c(3);
  ASSERT_TRUE(c.Elect("n1"));
  c.TickAll(2);
  Member moved = M("n2");
  moved.set_address("elsewhere:4100");
  ASSERT_TRUE(c.node("n1").ProposeConfChange(ConfChange::UPDATE_ADDRESS, moved).ok());
  c.Stabilize();
  for (const std::string& id : c.ids()) {
    std::optional<Member> m = c.node(id).FindMember("n2");
    ASSERT_TRUE(m.has_value()) << id;
    EXPECT_EQ(m->address(), "elsewhere:4100") << id;
    EXPECT_TRUE(c.node(id).IsVoter("n2")) << id;
  }
}

}  // namespace
}  // namespace concordance::raft
