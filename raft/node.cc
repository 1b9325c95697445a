#include "raft/node.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace concordance::raft {
namespace {

// Bound on backwards scans of the log when computing conflict hints.
constexpr int kMaxHintScan = 4096;

bool IsLeaderMessage(const Message& m) {
  return m.has_append_entries() || m.has_install_snapshot() ||
         m.has_timeout_now() || m.has_read_index_response();
}

}  // namespace

bool HasSaneNumbers(const Message& m) {
  auto ok = [](uint64_t v) { return v < kMaxTermOrIndex; };
  if (!ok(m.term())) return false;
  switch (m.body_case()) {
    case Message::kRequestVote:
      return ok(m.request_vote().last_log_index()) && ok(m.request_vote().last_log_term());
    case Message::kAppendEntries: {
      const AppendEntries& a = m.append_entries();
      if (!ok(a.prev_log_index()) || !ok(a.prev_log_term()) || !ok(a.leader_commit())) {
        return false;
      }
      for (const LogEntry& e : a.entries()) {
        if (!ok(e.index()) || !ok(e.term())) return false;
      }
      return true;
    }
    case Message::kAppendEntriesResponse: {
      const AppendEntriesResponse& r = m.append_entries_response();
      return ok(r.match_index()) && ok(r.conflict_index()) && ok(r.conflict_term()) &&
             ok(r.last_log_index()) && ok(r.rejected_index());
    }
    case Message::kInstallSnapshot: {
      const SnapshotMeta& meta = m.install_snapshot().meta();
      return ok(meta.index()) && ok(meta.term()) && ok(meta.size()) &&
             ok(m.install_snapshot().offset());
    }
    case Message::kInstallSnapshotResponse:
      return ok(m.install_snapshot_response().snapshot_index()) &&
             ok(m.install_snapshot_response().next_offset());
    case Message::kReadIndexResponse:
      return ok(m.read_index_response().index());
    default:
      return true;
  }
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

Node::Node(Config config, const storage::LogStore* store)
    : config_(std::move(config)), store_(store), log_(store), rng_(config_.seed) {
  CHECK(!config_.id.empty()) << "a node needs an id";
  CHECK_GE(config_.election_ticks_min, 1);
  CHECK_GE(config_.election_ticks_max, config_.election_ticks_min);
  const HardState hs = store->hard_state();
  const SnapshotMeta snap = store->snapshot_meta();
  CHECK_GE(config_.applied, snap.index())
      << "the state machine (applied " << config_.applied
      << ") is behind the snapshot (" << snap.index()
      << "): restore it from the snapshot before starting the node";
  uint64_t applied = config_.applied;
  uint64_t committed = std::min(std::max(hs.commit(), applied), log_.LastIndex());
  CHECK_LE(applied, log_.LastIndex()) << "state machine is ahead of the log";
  log_.set_committed(committed);
  log_.set_applied(applied);
  applying_ = applied;
  // The configuration: the latest CONFIG entry known committed, else the
  // snapshot's; a node with neither waits to be added by a leader.
  absl::StatusOr<LogEntry> ce = store->LastConfigEntry(committed);
  ConfChange cc;
  if (ce.ok() && cc.ParseFromString(ce->data())) {
    conf_ = cc.result();
    conf_index_ = ce->index();
  } else if (snap.index() > 0) {
    conf_ = snap.conf_state();
    conf_index_ = snap.index();
  }
  term_ = hs.term();
  vote_ = hs.voted_for();
  prev_hard_state_ = hs;
  durable_term_ = hs.term();
  role_ = Role::kFollower;
  ResetRandomizedElectionTimeout();
  prev_soft_state_ = SoftState{role_, lead_};
}

absl::Status Node::Bootstrap(storage::LogStore* store,
                             const std::vector<Member>& voters) {
  if (store->LastIndex() != 0 || store->hard_state().term() != 0 ||
      store->snapshot_meta().index() != 0) {
    return absl::FailedPreconditionError("the log store already holds state");
  }
  if (voters.empty()) return absl::InvalidArgumentError("no voters");
  ConfChange cc;
  cc.set_type(ConfChange::PROMOTE);
  *cc.mutable_member() = voters.front();
  for (const Member& m : voters) *cc.mutable_result()->add_voters() = m;
  LogEntry e;
  e.set_index(1);
  e.set_term(1);
  e.set_type(CONFIG);
  e.set_data(cc.SerializeAsString());
  HardState hs;
  hs.set_term(1);
  hs.set_commit(1);
  std::vector<LogEntry> entries = {e};
  return store->Save(&hs, entries, &cc.result());
}

// ---------------------------------------------------------------------------
// Membership helpers

bool Node::IsVoter(const std::string& id) const {
  for (const Member& m : conf_.voters()) {
    if (m.node_id() == id) return true;
  }
  return false;
}

bool Node::IsMember(const std::string& id) const {
  if (IsVoter(id)) return true;
  for (const Member& m : conf_.learners()) {
    if (m.node_id() == id) return true;
  }
  return false;
}

std::optional<Member> Node::FindMember(const std::string& id) const {
  for (const Member& m : conf_.voters()) {
    if (m.node_id() == id) return m;
  }
  for (const Member& m : conf_.learners()) {
    if (m.node_id() == id) return m;
  }
  return std::nullopt;
}

size_t Node::Quorum() const { return conf_.voters_size() / 2 + 1; }

int Node::VotesFor(bool granted) const {
  int n = 0;
  for (const auto& [id, g] : votes_) {
    if (g == granted && IsVoter(id)) ++n;
  }
  return n;
}

std::vector<MemberStatus> Node::Members() const {
  std::vector<MemberStatus> out;
  auto add = [&](const Member& m, bool voter) {
    MemberStatus s;
    s.member = m;
    s.voter = voter;
    auto it = progress_.find(m.node_id());
    if (it != progress_.end()) {
      s.match = it->second.match;
      s.recent_active = it->second.recent_active;
    }
    out.push_back(s);
  };
  for (const Member& m : conf_.voters()) add(m, true);
  for (const Member& m : conf_.learners()) add(m, false);
  return out;
}

bool Node::CommittedInCurrentTerm() const {
  return log_.TermOrZero(log_.committed()) == term_;
}

// ---------------------------------------------------------------------------
// Role changes

void Node::ResetRandomizedElectionTimeout() {
  std::uniform_int_distribution<int> d(config_.election_ticks_min,
                                       config_.election_ticks_max);
  randomized_election_timeout_ = d(rng_);
}

void Node::Reset(uint64_t term) {
  if (term != term_) {
    term_ = term;
    vote_.clear();
  }
  lead_.clear();
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  lead_transferee_.clear();
  campaign_after_apply_ = false;
  votes_.clear();
  FailPendingReads();
  for (uint64_t id : remote_reads_) read_states_.push_back(ReadState{id, 0, false});
  remote_reads_.clear();
  progress_.clear();
  pending_conf_index_ = 0;
  broadcast_pending_ = false;
}

void Node::BecomeFollower(uint64_t term, const std::string& lead) {
  Reset(term);
  role_ = Role::kFollower;
  lead_ = lead;
}

void Node::BecomePreCandidate() {
  // Term and vote stay: a pre-vote changes nothing durable.
  role_ = Role::kPreCandidate;
  votes_.clear();
  lead_.clear();
}

void Node::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Node::BecomeLeader() {
  CHECK(role_ == Role::kCandidate) << "only a candidate becomes leader";
  Reset(term_);
  role_ = Role::kLeader;
  lead_ = config_.id;
  uint64_t last = log_.LastIndex();
  for (const auto* list : {&conf_.voters(), &conf_.learners()}) {
    for (const Member& m : *list) progress_[m.node_id()].next = last + 1;
  }
  Progress& self = progress_[config_.id];
  self.match = log_.StableIndex();
  self.recent_active = true;
  self.state = Progress::State::kReplicate;
  // No membership change until everything before this term is applied.
  pending_conf_index_ = last;
  AppendEntry(NOOP, "");
  LOG(INFO) << config_.id << " became leader at term " << term_;
}

bool Node::Promotable() const {
  if (!IsVoter(config_.id) || log_.pending_snapshot()) return false;
  // A committed but unapplied configuration may remove us.
  if (log_.committed() > conf_index_) {
    absl::StatusOr<LogEntry> ce = store_->LastConfigEntry(log_.committed());
    if (ce.ok() && ce->index() > conf_index_) return false;
  }
  return true;
}

bool Node::PastElectionTimeout() const {
  return election_elapsed_ >= randomized_election_timeout_;
}

// ---------------------------------------------------------------------------
// Ticks

void Node::Tick() {
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Node::TickElection() {
  ++election_elapsed_;
  // The timeout first: Promotable() may look through the log.
  if (PastElectionTimeout() && Promotable()) {
    election_elapsed_ = 0;
    Campaign(config_.pre_vote, /*transfer=*/false);
  }
}

void Node::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks_min) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      size_t active = 0;
      for (const Member& m : conf_.voters()) {
        auto it = progress_.find(m.node_id());
        if (m.node_id() == config_.id ||
            (it != progress_.end() && it->second.recent_active)) {
          ++active;
        }
      }
      if (active < Quorum()) {
        LOG(INFO) << config_.id << " steps down at term " << term_
                  << ": heard from only " << active << " of "
                  << conf_.voters_size() << " voters";
        BecomeFollower(term_, "");
        return;
      }
      for (auto& [id, pr] : progress_) {
        if (id != config_.id) pr.recent_active = false;
      }
    }
    if (!lead_transferee_.empty()) AbortTransfer();
  }
  if (role_ != Role::kLeader) return;
  for (auto& [id, pr] : progress_) {
    if (pr.state != Progress::State::kSnapshot) continue;
    if (++pr.snapshot_idle_ticks >= config_.election_ticks_min) {
      pr.snapshot_sent = pr.snapshot_acked;  // resend the unanswered chunk
      SendSnapshotChunk(id, pr);
    }
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat(read_round_);
    MaybePromoteLearners();
  }
}

void Node::CampaignNow() {
  if (role_ != Role::kLeader && Promotable()) Campaign(config_.pre_vote, false);
}

void Node::Campaign(bool pre_vote, bool transfer) {
  if (term_ + 1 >= kMaxTermOrIndex) {
    LOG_EVERY_N(ERROR, 100) << config_.id << " cannot campaign: its term " << term_
                            << " is at the limit";
    return;
  }
  uint64_t term;
  if (pre_vote) {
    BecomePreCandidate();
    term = term_ + 1;
  } else {
    BecomeCandidate();
    term = term_;
  }
  votes_[config_.id] = true;
  if (VotesFor(true) >= static_cast<int>(Quorum())) {
    // A single voter wins at once.
    if (pre_vote) {
      Campaign(false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (const Member& m : conf_.voters()) {
    if (m.node_id() == config_.id) continue;
    Message msg;
    msg.set_to(m.node_id());
    msg.set_term(term);
    RequestVote* rv = msg.mutable_request_vote();
    rv->set_last_log_index(log_.LastIndex());
    rv->set_last_log_term(log_.LastTerm());
    rv->set_pre_vote(pre_vote);
    rv->set_transfer(transfer);
    Send(std::move(msg));
  }
}

// ---------------------------------------------------------------------------
// Step

void Node::Send(Message m) {
  m.set_from(config_.id);
  if (m.term() == 0) m.set_term(term_);
  if (role_ == Role::kLeader && IsLeaderMessage(m)) {
    leader_msgs_.push_back(std::move(m));
  } else {
    msgs_.push_back(std::move(m));
  }
}

void Node::Step(const Message& m) {
  if (m.to() != config_.id || m.from().empty() || m.from() == config_.id) return;
  if (!HasSaneNumbers(m)) {
    LOG_EVERY_N(WARNING, 100) << config_.id << " drops a message from " << m.from()
                              << " with a term or index beyond 2^62";
    return;
  }
  if (m.term() > term_) {
    if (m.has_request_vote()) {
      bool in_lease = config_.check_quorum && !lead_.empty() &&
                      election_elapsed_ < config_.election_ticks_min;
      if (!m.request_vote().transfer() && in_lease) {
        // Leader stickiness (thesis §9.6): we heard from a live leader
        // within the minimum election timeout; don't let this disrupt it.
        return;
      }
    }
    bool keep_term =
        (m.has_request_vote() && m.request_vote().pre_vote()) ||
        (m.has_request_vote_response() && m.request_vote_response().pre_vote() &&
         m.request_vote_response().granted());
    if (!keep_term) {
      std::string lead =
          (m.has_append_entries() || m.has_install_snapshot()) ? m.from() : "";
      BecomeFollower(m.term(), lead);
    }
  } else if (m.term() < term_) {
    if ((config_.check_quorum || config_.pre_vote) && m.has_append_entries()) {
      // A stale leader (e.g. back from a partition): tell it our term so it
      // steps down instead of holding followers' elections off.
      Message r;
      r.set_to(m.from());
      r.mutable_append_entries_response()->set_success(false);
      Send(std::move(r));
    } else if (m.has_request_vote() && m.request_vote().pre_vote()) {
      Message r;
      r.set_to(m.from());
      r.mutable_request_vote_response()->set_pre_vote(true);
      r.mutable_request_vote_response()->set_granted(false);
      Send(std::move(r));
    }
    return;
  }

  if (m.has_request_vote()) {
    HandleVoteRequest(m);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
      StepFollower(m);
      break;
  }
}

void Node::HandleVoteRequest(const Message& m) {
  const RequestVote& rv = m.request_vote();
  bool can_vote = vote_ == m.from() || (vote_.empty() && lead_.empty()) ||
                  (rv.pre_vote() && m.term() > term_);
  Message r;
  r.set_to(m.from());
  RequestVoteResponse* resp = r.mutable_request_vote_response();
  resp->set_pre_vote(rv.pre_vote());
  if (can_vote && log_.IsUpToDate(rv.last_log_index(), rv.last_log_term())) {
    resp->set_granted(true);
    // A granted pre-vote answers at the proposed term.
    r.set_term(m.term());
    if (!rv.pre_vote()) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp->set_granted(false);
    r.set_term(term_);
  }
  Send(std::move(r));
}

void Node::StepCandidate(const Message& m) {
  if (m.has_request_vote_response()) {
    const RequestVoteResponse& r = m.request_vote_response();
    if (r.pre_vote() != (role_ == Role::kPreCandidate)) return;  // stale
    if (!IsVoter(m.from())) return;
    votes_[m.from()] = r.granted();
    if (VotesFor(true) >= static_cast<int>(Quorum())) {
      if (role_ == Role::kPreCandidate) {
        Campaign(false, false);
      } else {
        BecomeLeader();
        BroadcastAppend();
      }
    } else if (VotesFor(false) >= static_cast<int>(Quorum())) {
      BecomeFollower(term_, "");
    }
  } else if (m.has_append_entries() || m.has_install_snapshot()) {
    // Someone won this term.
    BecomeFollower(m.term(), m.from());
    StepFollower(m);
  } else if (m.has_read_index_request()) {
    AnswerRead(m.read_index_request().request_id(), m.from(), 0, /*ok=*/false);
  } else if (m.has_read_index_response()) {
    HandleReadIndexResponse(m);
  }
}

void Node::StepFollower(const Message& m) {
  if (m.has_append_entries()) {
    election_elapsed_ = 0;
    lead_ = m.from();
    if (m.append_entries().heartbeat()) {
      HandleHeartbeat(m);
    } else {
      HandleAppendEntries(m);
    }
  } else if (m.has_install_snapshot()) {
    election_elapsed_ = 0;
    lead_ = m.from();
    HandleInstallSnapshot(m);
  } else if (m.has_timeout_now()) {
    if (Promotable()) {
      LOG(INFO) << config_.id << " campaigns at once: leadership transfer from "
                << m.from();
      Campaign(false, /*transfer=*/true);
    } else if (IsVoter(config_.id)) {
      // Typically a removed leader handing off while our copy of its
      // removal is committed but not yet applied: campaign once it is.
      campaign_after_apply_ = true;
    }
  } else if (m.has_read_index_request()) {
    // Not the leader: the asker retries elsewhere.
    AnswerRead(m.read_index_request().request_id(), m.from(), 0, /*ok=*/false);
  } else if (m.has_read_index_response()) {
    HandleReadIndexResponse(m);
  }
}

void Node::HandleAppendEntries(const Message& m) {
  const AppendEntries& ae = m.append_entries();
  Message r;
  r.set_to(m.from());
  AppendEntriesResponse* resp = r.mutable_append_entries_response();
  if (ae.prev_log_index() < log_.committed()) {
    // Everything up to our commit index matches any leader's log.
    resp->set_success(true);
    resp->set_match_index(log_.committed());
    Send(std::move(r));
    return;
  }
  std::vector<LogEntry> entries(ae.entries().begin(), ae.entries().end());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].index() != ae.prev_log_index() + 1 + i ||
        entries[i].term() > m.term()) {
      LOG(WARNING) << config_.id << " drops a malformed append from " << m.from();
      return;
    }
  }
  std::optional<uint64_t> last_new =
      log_.MaybeAppend(ae.prev_log_index(), ae.prev_log_term(), entries);
  if (last_new) {
    log_.CommitTo(std::min(ae.leader_commit(), *last_new));
    resp->set_success(true);
    resp->set_match_index(*last_new);
  } else {
    resp->set_success(false);
    resp->set_rejected_index(ae.prev_log_index());
    uint64_t last = log_.LastIndex();
    resp->set_last_log_index(last);
    if (ae.prev_log_index() > last) {
      resp->set_conflict_index(last + 1);
      resp->set_conflict_term(0);
    } else {
      uint64_t t = log_.TermOrZero(ae.prev_log_index());
      uint64_t idx = ae.prev_log_index();
      for (int n = 0; n < kMaxHintScan && idx > log_.committed() + 1 &&
                      log_.TermOrZero(idx - 1) == t;
           ++n) {
        --idx;
      }
      resp->set_conflict_term(t);
      resp->set_conflict_index(idx);
    }
  }
  Send(std::move(r));
}

void Node::HandleHeartbeat(const Message& m) {
  const AppendEntries& ae = m.append_entries();
  log_.CommitTo(std::min(ae.leader_commit(), log_.LastIndex()));
  Message r;
  r.set_to(m.from());
  AppendEntriesResponse* resp = r.mutable_append_entries_response();
  resp->set_success(true);
  resp->set_heartbeat(true);
  resp->set_read_round(ae.read_round());
  Send(std::move(r));
}

void Node::HandleInstallSnapshot(const Message& m) {
  const InstallSnapshot& is = m.install_snapshot();
  const SnapshotMeta& meta = is.meta();
  auto reply_matched = [&](uint64_t index) {
    Message r;
    r.set_to(m.from());
    r.mutable_append_entries_response()->set_success(true);
    r.mutable_append_entries_response()->set_match_index(index);
    Send(std::move(r));
  };
  auto reply_chunk = [&](uint64_t next_offset, bool rejected) {
    Message r;
    r.set_to(m.from());
    InstallSnapshotResponse* resp = r.mutable_install_snapshot_response();
    resp->set_snapshot_index(meta.index());
    resp->set_next_offset(next_offset);
    resp->set_rejected(rejected);
    Send(std::move(r));
  };
  if (meta.index() <= log_.committed()) {
    incoming_data_.clear();
    incoming_meta_.Clear();
    reply_matched(log_.committed());
    return;
  }
  if (meta.size() > config_.max_snapshot_bytes) {
    // Not answered: the leader retries after a while, not in a tight loop.
    LOG_EVERY_N(WARNING, 20) << config_.id << " refuses a snapshot of " << meta.size()
                             << " bytes from " << m.from() << ": over the limit of "
                             << config_.max_snapshot_bytes << " (--max-snapshot-bytes)";
    incoming_data_.clear();
    incoming_meta_.Clear();
    return;
  }
  if (is.offset() == 0) {
    incoming_meta_ = meta;
    incoming_data_.clear();
  } else if (incoming_meta_.index() != meta.index() ||
             incoming_meta_.term() != meta.term()) {
    reply_chunk(0, true);
    return;
  }
  if (is.offset() != incoming_data_.size()) {
    // A duplicate (offset behind) or a gap (offset ahead): say where we are.
    reply_chunk(incoming_data_.size(), is.offset() > incoming_data_.size());
    return;
  }
  incoming_data_.append(is.data());
  if (incoming_data_.size() > meta.size()) {
    incoming_data_.clear();
    reply_chunk(0, true);
    return;
  }
  if (!is.done()) {
    reply_chunk(incoming_data_.size(), false);
    return;
  }
  FinishIncomingSnapshot(m);
}

void Node::FinishIncomingSnapshot(const Message& m) {
  const SnapshotMeta& meta = m.install_snapshot().meta();
  if (incoming_data_.size() != meta.size() ||
      storage::SnapshotChecksum(incoming_data_) != meta.checksum()) {
    LOG(WARNING) << config_.id << " got a damaged snapshot at " << meta.index();
    incoming_data_.clear();
    Message r;
    r.set_to(m.from());
    r.mutable_install_snapshot_response()->set_snapshot_index(meta.index());
    r.mutable_install_snapshot_response()->set_rejected(true);
    Send(std::move(r));
    return;
  }
  if (config_.validate_snapshot) {
    absl::Status valid = config_.validate_snapshot(meta, incoming_data_);
    if (!valid.ok()) {
      // Not answered: the leader asks again after a while (its idle resend
      // restarts the transfer), not in a tight loop of whole images.
      LOG_EVERY_T(WARNING, 1) << config_.id << " refuses the snapshot at index " << meta.index()
                               << " from " << m.from() << " and keeps its log: " << valid;
      incoming_data_.clear();
      incoming_meta_.Clear();
      return;
    }
  }
  if (log_.MatchTerm(meta.index(), meta.term())) {
    // Our log already holds the snapshot's last entry: just commit.
    log_.CommitTo(meta.index());
  } else {
    LOG(INFO) << config_.id << " installs a snapshot at index " << meta.index()
              << " term " << meta.term() << " (" << meta.size() << " bytes)";
    log_.RestoreSnapshot(meta);
    pending_install_ = storage::Snapshot{
        meta, std::make_shared<const std::string>(std::move(incoming_data_))};
    conf_index_ = meta.index();
    SetConf(meta.conf_state());
    conf_dirty_ = true;
  }
  incoming_data_.clear();
  incoming_meta_.Clear();
  Message r;
  r.set_to(m.from());
  r.mutable_append_entries_response()->set_success(true);
  r.mutable_append_entries_response()->set_match_index(meta.index());
  Send(std::move(r));
}

void Node::HandleReadIndexResponse(const Message& m) {
  const ReadIndexResponse& r = m.read_index_response();
  auto it = std::find(remote_reads_.begin(), remote_reads_.end(), r.request_id());
  if (it == remote_reads_.end()) return;
  remote_reads_.erase(it);
  read_states_.push_back(ReadState{r.request_id(), r.index(), !r.rejected()});
}

// ---------------------------------------------------------------------------
// Leader

void Node::StepLeader(const Message& m) {
  if (m.has_append_entries_response()) {
    auto it = progress_.find(m.from());
    if (it == progress_.end()) return;
    Progress& pr = it->second;
    pr.recent_active = true;
    const AppendEntriesResponse& r = m.append_entries_response();
    if (r.heartbeat()) {
      pr.probe_sent = false;
      if (pr.state == Progress::State::kReplicate &&
          static_cast<int>(pr.inflight.size()) >= config_.max_inflight_appends) {
        pr.inflight.pop_front();  // let one more append through
      }
      // An empty append, if need be, so that a follower whose appends were
      // lost answers with a rejection that tells us where it stands.
      if (pr.match < log_.LastIndex()) SendAppend(m.from(), true);
      if (r.read_round() > pr.read_round_acked) {
        pr.read_round_acked = r.read_round();
        ReleaseConfirmedReads();
      }
      return;
    }
    HandleAppendResponse(m, pr);
  } else if (m.has_install_snapshot_response()) {
    auto it = progress_.find(m.from());
    if (it == progress_.end()) return;
    it->second.recent_active = true;
    HandleSnapshotResponse(m, it->second);
  } else if (m.has_read_index_request()) {
    StartRead(m.read_index_request().request_id(), m.from());
  } else if (m.has_append_entries()) {
    LOG(ERROR) << config_.id << " is leader at term " << term_
               << " and got an append from " << m.from() << " at the same term";
  }
}

void Node::HandleAppendResponse(const Message& m, Progress& pr) {
  const AppendEntriesResponse& r = m.append_entries_response();
  if (!r.success()) {
    // Stale rejections answer appends we have moved past.
    if (pr.state == Progress::State::kReplicate) {
      if (r.rejected_index() <= pr.match) return;
    } else if (pr.state == Progress::State::kProbe) {
      if (r.rejected_index() != pr.next - 1) return;
    } else {
      return;
    }
    uint64_t next = r.conflict_index();
    if (r.conflict_term() > 0) {
      // If we hold conflict_term, resume after our last entry of it.
      uint64_t idx = std::min(r.rejected_index(), log_.LastIndex());
      for (int n = 0; n < kMaxHintScan && idx > pr.match &&
                      log_.TermOrZero(idx) > r.conflict_term();
           ++n) {
        --idx;
      }
      if (idx > 0 && log_.TermOrZero(idx) == r.conflict_term()) next = idx + 1;
    }
    next = std::max(next, pr.match + 1);
    next = std::min(next, r.rejected_index());
    next = std::max<uint64_t>(next, 1);
    if (pr.state == Progress::State::kReplicate) pr.BecomeProbe();
    pr.next = next;
    pr.probe_sent = false;
    SendAppend(m.from(), true);
    return;
  }
  bool was_paused = pr.Paused(config_.max_inflight_appends);
  if (!pr.MaybeUpdate(r.match_index())) return;
  switch (pr.state) {
    case Progress::State::kProbe:
      pr.BecomeReplicate();
      break;
    case Progress::State::kSnapshot:
      if (pr.match >= pr.snapshot_meta.index()) pr.BecomeProbe();
      break;
    case Progress::State::kReplicate:
      pr.FreeInflightTo(pr.match);
      break;
  }
  if (MaybeCommit()) {
    broadcast_pending_ = true;  // followers learn the commit in the next round
  } else if (was_paused) {
    SendAppend(m.from(), false);
  }
  while (SendAppend(m.from(), false)) {
  }
  if (m.from() == lead_transferee_ && pr.match == log_.LastIndex()) {
    SendTimeoutNow(m.from());
  }
}

void Node::HandleSnapshotResponse(const Message& m, Progress& pr) {
  const InstallSnapshotResponse& r = m.install_snapshot_response();
  if (pr.state != Progress::State::kSnapshot ||
      r.snapshot_index() != pr.snapshot_meta.index()) {
    return;
  }
  pr.snapshot_idle_ticks = 0;
  uint64_t size = pr.snapshot_data->size();
  if (r.rejected()) {
    pr.snapshot_acked = pr.snapshot_sent = std::min(r.next_offset(), size);
    SendSnapshotChunk(m.from(), pr);
    return;
  }
  if (r.next_offset() > pr.snapshot_acked) pr.snapshot_acked = r.next_offset();
  if (pr.snapshot_acked >= pr.snapshot_sent && pr.snapshot_sent < size) {
    SendSnapshotChunk(m.from(), pr);
  }
}

bool Node::SendAppend(const std::string& to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end() || to == config_.id) return false;
  Progress& pr = it->second;
  if (pr.Paused(config_.max_inflight_appends)) return false;
  uint64_t prev = pr.next - 1;
  absl::StatusOr<uint64_t> prev_term = log_.Term(prev);
  uint64_t hi = std::min(log_.LastIndex() + 1, pr.next + config_.max_entries_per_append);
  absl::StatusOr<std::vector<LogEntry>> entries =
      log_.Entries(pr.next, hi, config_.max_bytes_per_append);
  if (!prev_term.ok() || !entries.ok()) {
    // The follower needs compacted entries: stream the snapshot.
    if (!pr.recent_active) return false;
    absl::StatusOr<storage::Snapshot> snap = store_->LoadSnapshot();
    if (!snap.ok() || snap->meta.index() == 0) {
      // Unavailable: the store is making an image; the next round retries.
      LOG_IF(WARNING, !absl::IsUnavailable(snap.status()))
          << config_.id << " cannot load a snapshot for " << to << ": "
          << (snap.ok() ? "none" : snap.status().ToString());
      return false;
    }
    LOG(INFO) << config_.id << " sends snapshot " << snap->meta.index() << " to "
              << to << " (needs " << pr.next << ")";
    pr.BecomeSnapshot(snap->meta, snap->data);
    SendSnapshotChunk(to, pr);
    return false;
  }
  if (entries->empty() && !send_if_empty) return false;
  Message m;
  m.set_to(to);
  AppendEntries* ae = m.mutable_append_entries();
  ae->set_prev_log_index(prev);
  ae->set_prev_log_term(*prev_term);
  ae->set_leader_commit(log_.committed());
  uint64_t last = prev;
  for (LogEntry& e : *entries) {
    last = e.index();
    *ae->add_entries() = std::move(e);
  }
  bool had_entries = last > prev;
  pr.SentAppend(last, had_entries);
  Send(std::move(m));
  return had_entries;
}

void Node::SendSnapshotChunk(const std::string& to, Progress& pr) {
  uint64_t size = pr.snapshot_data->size();
  uint64_t offset = std::min(pr.snapshot_sent, size);
  uint64_t len = std::min<uint64_t>(config_.snapshot_chunk_bytes, size - offset);
  Message m;
  m.set_to(to);
  InstallSnapshot* is = m.mutable_install_snapshot();
  *is->mutable_meta() = pr.snapshot_meta;
  is->set_offset(offset);
  is->set_data(pr.snapshot_data->substr(offset, len));
  is->set_done(offset + len == size);
  pr.snapshot_sent = offset + len;
  pr.snapshot_idle_ticks = 0;
  Send(std::move(m));
}

void Node::SendHeartbeat(const std::string& to, uint64_t read_round) {
  const Progress& pr = progress_.at(to);
  Message m;
  m.set_to(to);
  AppendEntries* ae = m.mutable_append_entries();
  ae->set_heartbeat(true);
  ae->set_leader_commit(std::min(pr.match, log_.committed()));
  ae->set_read_round(read_round);
  Send(std::move(m));
}

void Node::SendTimeoutNow(const std::string& to) {
  Message m;
  m.set_to(to);
  m.mutable_timeout_now();
  Send(std::move(m));
}

void Node::BroadcastAppend() {
  for (auto& [id, pr] : progress_) {
    if (id != config_.id) SendAppend(id, true);
  }
}

void Node::BroadcastHeartbeat(uint64_t read_round) {
  for (auto& [id, pr] : progress_) {
    if (id != config_.id) SendHeartbeat(id, read_round);
  }
}

bool Node::MaybeCommit() {
  std::vector<uint64_t> matches;
  for (const Member& m : conf_.voters()) {
    auto it = progress_.find(m.node_id());
    matches.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<uint64_t>());
  uint64_t candidate = matches[Quorum() - 1];
  // §5.4.2: count replicas only for an entry of the current term.
  if (candidate <= log_.committed() || log_.TermOrZero(candidate) != term_) {
    return false;
  }
  log_.CommitTo(candidate);
  if (!reads_before_commit_.empty()) {
    std::vector<PendingRead> waiting;
    waiting.swap(reads_before_commit_);
    for (const PendingRead& r : waiting) StartRead(r.request_id, r.from);
  }
  return true;
}

void Node::AppendEntry(EntryType type, std::string data) {
  LogEntry e;
  e.set_index(log_.LastIndex() + 1);
  e.set_term(term_);
  e.set_type(type);
  e.set_data(std::move(data));
  log_.Append(std::move(e));
  broadcast_pending_ = true;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> Node::Propose(std::string data) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError("not the leader");
  }
  if (log_.LastIndex() + 1 >= kMaxTermOrIndex) {
    return absl::ResourceExhaustedError("the log index is at its limit");
  }
  if (!lead_transferee_.empty()) {
    return absl::FailedPreconditionError("leadership transfer in progress");
  }
  AppendEntry(COMMAND, std::move(data));
  return std::make_pair(log_.LastIndex(), term_);
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> Node::ProposeConfChange(
    ConfChange::Type type, const Member& member) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError("not the leader");
  }
  if (!lead_transferee_.empty()) {
    return absl::FailedPreconditionError("leadership transfer in progress");
  }
  if (pending_conf_index_ > log_.applied()) {
    return absl::FailedPreconditionError(
        "another membership change is still being applied");
  }
  if (!CommittedInCurrentTerm()) {
    return absl::FailedPreconditionError(
        "the leader has not yet committed an entry of its term");
  }
  const std::string& id = member.node_id();
  if (id.empty()) return absl::InvalidArgumentError("member has no node id");
  ConfState next;
  ConfChange cc;
  cc.set_type(type);
  switch (type) {
    case ConfChange::ADD_LEARNER: {
      if (IsMember(id)) {
        return absl::AlreadyExistsError(absl::StrCat(id, " is already a member"));
      }
      next = conf_;
      *next.add_learners() = member;
      next.clear_removed();
      for (const std::string& r : conf_.removed()) {
        if (r != id) next.add_removed(r);
      }
      *cc.mutable_member() = member;
      break;
    }
    case ConfChange::PROMOTE: {
      if (IsVoter(id)) return absl::AlreadyExistsError(absl::StrCat(id, " is already a voter"));
      std::optional<Member> m = FindMember(id);
      if (!m) return absl::NotFoundError(absl::StrCat(id, " is not a member"));
      *next.mutable_voters() = conf_.voters();
      *next.add_voters() = *m;
      for (const Member& l : conf_.learners()) {
        if (l.node_id() != id) *next.add_learners() = l;
      }
      *next.mutable_removed() = conf_.removed();
      *cc.mutable_member() = *m;
      break;
    }
    case ConfChange::REMOVE: {
      std::optional<Member> m = FindMember(id);
      if (!m) return absl::NotFoundError(absl::StrCat(id, " is not a member"));
      if (IsVoter(id) && conf_.voters_size() == 1) {
        return absl::InvalidArgumentError("cannot remove the last voter");
      }
      for (const Member& v : conf_.voters()) {
        if (v.node_id() != id) *next.add_voters() = v;
      }
      for (const Member& l : conf_.learners()) {
        if (l.node_id() != id) *next.add_learners() = l;
      }
      *next.mutable_removed() = conf_.removed();
      next.add_removed(id);
      *cc.mutable_member() = *m;
      break;
    }
    case ConfChange::UPDATE_ADDRESS: {
      if (!FindMember(id)) return absl::NotFoundError(absl::StrCat(id, " is not a member"));
      if (member.address().empty()) return absl::InvalidArgumentError("no address");
      next = conf_;
      for (auto* list : {next.mutable_voters(), next.mutable_learners()}) {
        for (Member& m : *list) {
          if (m.node_id() == id) m.set_address(member.address());
        }
      }
      *cc.mutable_member() = member;
      break;
    }
    default:
      return absl::InvalidArgumentError("unknown membership change");
  }
  *cc.mutable_result() = next;
  AppendEntry(CONFIG, cc.SerializeAsString());
  pending_conf_index_ = log_.LastIndex();
  LOG(INFO) << config_.id << " proposes " << ConfChange::Type_Name(type) << " "
            << id << " at index " << pending_conf_index_;
  return std::make_pair(log_.LastIndex(), term_);
}

void Node::MaybePromoteLearners() {
  if (!config_.auto_promote_learners || conf_.learners_size() == 0) return;
  if (pending_conf_index_ > log_.applied() || !CommittedInCurrentTerm() ||
      !lead_transferee_.empty()) {
    return;
  }
  for (const Member& l : conf_.learners()) {
    auto it = progress_.find(l.node_id());
    if (it == progress_.end()) continue;
    if (it->second.match + config_.max_entries_per_append >= log_.committed() &&
        it->second.recent_active) {
      ProposeConfChange(ConfChange::PROMOTE, l).IgnoreError();
      return;  // one change at a time
    }
  }
}

absl::Status Node::TransferLeadership(const std::string& requested) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError("not the leader");
  }
  std::string target = requested;
  if (target.empty()) {
    uint64_t best = 0;
    for (const Member& m : conf_.voters()) {
      if (m.node_id() == config_.id) continue;
      uint64_t match = progress_.count(m.node_id()) ? progress_.at(m.node_id()).match : 0;
      if (target.empty() || match > best) {
        target = m.node_id();
        best = match;
      }
    }
    if (target.empty()) {
      return absl::FailedPreconditionError("no other voter to transfer to");
    }
  }
  if (!IsVoter(target)) {
    return absl::InvalidArgumentError(absl::StrCat(target, " is not a voter"));
  }
  if (target == config_.id) {  // it leads already: stop moving it elsewhere
    AbortTransfer();
    return absl::OkStatus();
  }
  if (lead_transferee_ == target) return absl::OkStatus();
  if (!lead_transferee_.empty()) AbortTransfer();
  LOG(INFO) << config_.id << " transfers leadership to " << target;
  lead_transferee_ = target;
  election_elapsed_ = 0;
  Progress& pr = progress_[target];
  if (pr.match == log_.LastIndex()) {
    SendTimeoutNow(target);
  } else {
    SendAppend(target, true);
  }
  return absl::OkStatus();
}

void Node::AbortTransfer() {
  if (!lead_transferee_.empty()) {
    LOG(INFO) << config_.id << " aborts leadership transfer to " << lead_transferee_;
  }
  lead_transferee_.clear();
}

// ---------------------------------------------------------------------------
// ReadIndex

void Node::ReadIndex(uint64_t request_id) {
  if (role_ == Role::kLeader) {
    StartRead(request_id, "");
  } else if (role_ == Role::kFollower && !lead_.empty()) {
    remote_reads_.push_back(request_id);
    Message m;
    m.set_to(lead_);
    m.mutable_read_index_request()->set_request_id(request_id);
    Send(std::move(m));
  } else {
    read_states_.push_back(ReadState{request_id, 0, false});
  }
}

void Node::StartRead(uint64_t request_id, const std::string& from) {
  if (!CommittedInCurrentTerm()) {
    // §6.4: the leader's commit index is only known current once it has
    // committed an entry of its term.
    reads_before_commit_.push_back(PendingRead{request_id, from, 0, 0});
    return;
  }
  uint64_t index = log_.committed();
  if (conf_.voters_size() == 1 && IsVoter(config_.id)) {
    AnswerRead(request_id, from, index, true);
    return;
  }
  ++read_round_;
  pending_reads_.push_back(PendingRead{request_id, from, index, read_round_});
  progress_[config_.id].read_round_acked = read_round_;
  BroadcastHeartbeat(read_round_);
}

void Node::AnswerRead(uint64_t request_id, const std::string& from,
                      uint64_t index, bool ok) {
  if (from.empty()) {
    read_states_.push_back(ReadState{request_id, index, ok});
    return;
  }
  Message m;
  m.set_to(from);
  ReadIndexResponse* r = m.mutable_read_index_response();
  r->set_request_id(request_id);
  r->set_index(index);
  r->set_rejected(!ok);
  Send(std::move(m));
}

void Node::ReleaseConfirmedReads() {
  if (pending_reads_.empty()) return;
  std::vector<uint64_t> acked;
  for (const Member& m : conf_.voters()) {
    auto it = progress_.find(m.node_id());
    acked.push_back(it == progress_.end() ? 0 : it->second.read_round_acked);
  }
  std::sort(acked.begin(), acked.end(), std::greater<uint64_t>());
  uint64_t confirmed = acked[Quorum() - 1];
  std::vector<PendingRead> still;
  for (const PendingRead& r : pending_reads_) {
    if (r.round <= confirmed) {
      AnswerRead(r.request_id, r.from, r.index, true);
    } else {
      still.push_back(r);
    }
  }
  pending_reads_.swap(still);
}

void Node::FailPendingReads() {
  std::vector<PendingRead> all;
  all.swap(pending_reads_);
  all.insert(all.end(), reads_before_commit_.begin(), reads_before_commit_.end());
  reads_before_commit_.clear();
  for (const PendingRead& r : all) AnswerRead(r.request_id, r.from, 0, false);
}

// ---------------------------------------------------------------------------
// Membership

void Node::ApplyConfEntry(const LogEntry& e) {
  if (e.index() <= conf_index_) return;  // already in effect (restart)
  ConfChange cc;
  if (!cc.ParseFromString(e.data())) {
    LOG(ERROR) << config_.id << " cannot decode the CONFIG entry at " << e.index();
    return;
  }
  conf_index_ = e.index();
  LOG(INFO) << config_.id << " applies " << ConfChange::Type_Name(cc.type()) << " "
            << cc.member().node_id() << " (index " << e.index() << ")";
  SetConf(cc.result());
  conf_dirty_ = true;
}

void Node::SetConf(const ConfState& conf) {
  conf_ = conf;
  if (role_ != Role::kLeader) return;
  std::set<std::string> members;
  for (const auto* list : {&conf_.voters(), &conf_.learners()}) {
    for (const Member& m : *list) members.insert(m.node_id());
  }
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!members.count(it->first)) {
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<std::string> added_ids;
  for (const std::string& id : members) {
    auto [it, added] = progress_.try_emplace(id);
    if (added) {
      it->second.next = log_.LastIndex() + 1;
      added_ids.push_back(id);
    }
  }
  if (!IsVoter(config_.id)) {
    // Removed (or demoted): step down, and hand off to the most caught-up
    // voter so the cluster need not wait for an election timeout.
    std::string best;
    uint64_t best_match = 0;
    for (const Member& m : conf_.voters()) {
      uint64_t match = progress_.at(m.node_id()).match;
      if (best.empty() || match > best_match) {
        best = m.node_id();
        best_match = match;
      }
    }
    LOG(INFO) << config_.id << " is no longer a voter and steps down";
    BecomeFollower(term_, "");
    if (!best.empty()) SendTimeoutNow(best);
    return;
  }
  if (!lead_transferee_.empty() && !IsVoter(lead_transferee_)) AbortTransfer();
  for (const std::string& id : added_ids) SendAppend(id, true);
  if (MaybeCommit()) broadcast_pending_ = true;
  ReleaseConfirmedReads();
}

// ---------------------------------------------------------------------------
// Ready / Advance

bool Node::HasReady() const {
  if (ready_outstanding_) return false;
  if (!(SoftState{role_, lead_} == prev_soft_state_)) return true;
  if (term_ != prev_hard_state_.term() || vote_ != prev_hard_state_.voted_for() ||
      log_.committed() != prev_hard_state_.commit()) {
    return true;
  }
  return log_.HasUnpersisted() || pending_install_.has_value() || conf_dirty_ ||
         broadcast_pending_ || !msgs_.empty() || !leader_msgs_.empty() ||
         !read_states_.empty() || log_.HasCommittedAfter(applying_);
}

std::vector<Message> Node::TakeLeaderMessages() {
  if (term_ != durable_term_) return {};
  return DrainLeaderMessages();
}

std::vector<Message> Node::DrainLeaderMessages() {
  if (broadcast_pending_ && role_ == Role::kLeader) {
    broadcast_pending_ = false;
    BroadcastAppend();
  }
  std::vector<Message> out;
  out.swap(leader_msgs_);
  return out;
}

Ready Node::GetReady() {
  CHECK(!ready_outstanding_) << "GetReady() before Advance() of the last Ready";
  Ready rd;
  SoftState ss{role_, lead_};
  if (!(ss == prev_soft_state_)) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  HardState hs;
  hs.set_term(term_);
  hs.set_voted_for(vote_);
  hs.set_commit(log_.committed());
  if (hs.term() != prev_hard_state_.term() ||
      hs.voted_for() != prev_hard_state_.voted_for() ||
      hs.commit() != prev_hard_state_.commit()) {
    if (hs.term() != prev_hard_state_.term() ||
        hs.voted_for() != prev_hard_state_.voted_for()) {
      rd.must_sync = true;
    }
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  ready_snapshot_index_.reset();
  if (pending_install_) {
    ready_snapshot_index_ = pending_install_->meta.index();
    rd.snapshot = std::move(pending_install_);
    pending_install_.reset();
    rd.must_sync = true;
  }
  rd.entries = log_.TakeUnstableForPersist();
  ready_last_index_ = ready_last_term_ = 0;
  if (!rd.entries.empty()) {
    ready_last_index_ = rd.entries.back().index();
    ready_last_term_ = rd.entries.back().term();
    rd.must_sync = true;
  }
  if (conf_dirty_) {
    rd.conf_state = conf_;
    conf_dirty_ = false;
  }
  rd.committed_entries =
      log_.CommittedEntriesAfter(applying_, config_.max_committed_bytes_per_ready);
  ready_conf_entries_.clear();
  for (const LogEntry& e : rd.committed_entries) {
    if (e.type() == CONFIG) ready_conf_entries_.push_back(e);
  }
  if (!ready_conf_entries_.empty()) {
    // A configuration takes effect at Advance(). Make a commit index that
    // covers it durable first: a restarted node takes its configuration
    // from the latest CONFIG entry at or below its durable commit (or its
    // state machine's applied index, which a power loss may roll back), so
    // without this it could come back with an older configuration than the
    // one it acted on — and wait forever for votes from removed members
    // while refusing its vote to the new ones (found by the simulator).
    rd.hard_state = hs;
    rd.must_sync = true;
  }
  if (!rd.committed_entries.empty()) applying_ = rd.committed_entries.back().index();
  ready_applied_to_ = applying_;
  // This Ready persists term_; messages of a term not yet durable go out
  // only after it is, with the ordinary messages.
  ready_term_ = term_;
  if (term_ == durable_term_) {
    rd.leader_messages = DrainLeaderMessages();
  } else {
    for (Message& m : DrainLeaderMessages()) msgs_.push_back(std::move(m));
  }
  rd.messages.swap(msgs_);
  rd.read_states.swap(read_states_);
  ready_outstanding_ = true;
  return rd;
}

void Node::Advance() {
  CHECK(ready_outstanding_) << "Advance() without a Ready";
  ready_outstanding_ = false;
  durable_term_ = ready_term_;
  if (ready_snapshot_index_) {
    log_.SnapshotPersisted(*ready_snapshot_index_);
    applying_ = std::max(applying_, *ready_snapshot_index_);
    ready_applied_to_ = std::max(ready_applied_to_, *ready_snapshot_index_);
    ready_snapshot_index_.reset();
  }
  if (ready_last_index_ > 0) log_.StableTo(ready_last_index_, ready_last_term_);
  for (const LogEntry& e : ready_conf_entries_) ApplyConfEntry(e);
  ready_conf_entries_.clear();
  if (ready_applied_to_ > log_.applied()) log_.set_applied(ready_applied_to_);
  if (campaign_after_apply_ && role_ == Role::kFollower && Promotable()) {
    campaign_after_apply_ = false;
    Campaign(false, /*transfer=*/true);
  }
  if (role_ == Role::kLeader) {
    Progress& self = progress_[config_.id];
    self.match = std::max(self.match, log_.StableIndex());
    if (MaybeCommit()) broadcast_pending_ = true;
  }
}

bool Node::SnapshotDue() const {
  return log_.applied() >= store_->snapshot_meta().index() + config_.snapshot_threshold;
}

SnapshotMeta Node::SnapshotMetaAtApplied() const {
  SnapshotMeta meta;
  uint64_t applied = log_.applied();
  meta.set_index(applied);
  meta.set_term(log_.TermOrZero(applied));
  if (conf_index_ <= applied) {
    *meta.mutable_conf_state() = conf_;
  } else {
    absl::StatusOr<LogEntry> ce = store_->LastConfigEntry(applied);
    ConfChange cc;
    if (ce.ok() && cc.ParseFromString(ce->data())) {
      *meta.mutable_conf_state() = cc.result();
    } else {
      *meta.mutable_conf_state() = store_->snapshot_meta().conf_state();
    }
  }
  return meta;
}

}  // namespace concordance::raft
