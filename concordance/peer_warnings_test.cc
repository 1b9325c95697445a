#include "concordance/peer_warnings.h"

#include "gtest/gtest.h"

namespace concordance {
namespace {

using std::chrono::milliseconds;

PeerWarnings::View ThreeVoters(bool b_reachable, bool c_reachable,
                               std::string leader = "a") {
  PeerWarnings::View v;
  v.self_id = "a";
  v.leader_id = std::move(leader);
  v.members = {{"a", "127.0.0.1:1", true, false},
               {"b", "127.0.0.1:2", true, b_reachable},
               {"c", "127.0.0.1:3", true, c_reachable}};
  return v;
}

TEST(PeerWarningsTest, AnUnreachablePeerIsNamedAfterTheGraceThenEveryInterval) {
  PeerWarnings w({milliseconds(1000), milliseconds(5000)});
  auto t0 = PeerWarnings::Clock::time_point();
  EXPECT_TRUE(w.Observe(ThreeVoters(true, false), t0).empty());
  EXPECT_TRUE(
      w.Observe(ThreeVoters(true, false), t0 + milliseconds(999)).empty())
      << "grace";
  auto lines = w.Observe(ThreeVoters(true, false), t0 + milliseconds(1000));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "peer c at 127.0.0.1:3 is unreachable (for 1 s)");
  EXPECT_TRUE(
      w.Observe(ThreeVoters(true, false), t0 + milliseconds(5999)).empty())
      << "rate limit";
  lines = w.Observe(ThreeVoters(true, false), t0 + milliseconds(6000));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "peer c at 127.0.0.1:3 is unreachable (for 6 s)");
  lines = w.Observe(ThreeVoters(true, true), t0 + milliseconds(7000));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "peer c at 127.0.0.1:3 is reachable again (after 7 s)");
}

TEST(PeerWarningsTest, ABlipShorterThanTheGraceSaysNothing) {
  PeerWarnings w({milliseconds(1000), milliseconds(5000)});
  auto t0 = PeerWarnings::Clock::time_point();
  EXPECT_TRUE(w.Observe(ThreeVoters(false, true), t0).empty());
  EXPECT_TRUE(
      w.Observe(ThreeVoters(true, true), t0 + milliseconds(500)).empty());
  EXPECT_TRUE(
      w.Observe(ThreeVoters(false, true), t0 + milliseconds(1200)).empty())
      << "a new outage starts its own grace";
}

TEST(PeerWarningsTest, LosingTheQuorumIsSaidWithWhoIsMissing) {
  PeerWarnings w({milliseconds(0), milliseconds(5000)});
  auto t0 = PeerWarnings::Clock::time_point();
  auto lines = w.Observe(ThreeVoters(false, false, ""), t0);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2],
            "quorum lost: 1 of 3 voters reachable (2 needed; unreachable: b, "
            "c); writes cannot "
            "commit (for 0 s)");
  lines = w.Observe(ThreeVoters(true, false, ""), t0 + milliseconds(100));
  ASSERT_EQ(lines.size(), 1u) << "b is back; the quorum line is rate-limited";
  EXPECT_EQ(lines[0], "peer b at 127.0.0.1:2 is reachable again (after 0 s)");
  lines = w.Observe(ThreeVoters(true, false, "b"), t0 + milliseconds(200));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "a quorum is reachable and a leader known again (after 0 s)");
}

TEST(PeerWarningsTest, NothingIsSaidByANodeThatIsNoMember) {
  PeerWarnings w({milliseconds(0), milliseconds(5000)});
  PeerWarnings::View v = ThreeVoters(false, false, "");
  v.self_id = "joining";
  EXPECT_TRUE(w.Observe(v, PeerWarnings::Clock::time_point()).empty());
}

}  // namespace
}  // namespace concordance
