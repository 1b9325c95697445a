#include "concordance/node_driver.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>

#include "concordance/disk_space.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "util/status_payloads.h"
#include "util/failpoint.h"

namespace concordance {

namespace net = boost::asio;
using Steady = std::chrono::steady_clock;

struct NodeDriver::Loop {
  net::io_context loop;
  net::io_context persist;
  net::io_context snapshot;  // serializes state images and writes their files
  net::executor_work_guard<net::io_context::executor_type> loop_work{net::make_work_guard(loop)};
  net::executor_work_guard<net::io_context::executor_type> persist_work{
      net::make_work_guard(persist)};
  net::executor_work_guard<net::io_context::executor_type> snapshot_work{
      net::make_work_guard(snapshot)};
  net::steady_timer tick{loop};
  net::steady_timer sweep{loop};
  net::steady_timer checkpoint{snapshot};
  std::thread loop_thread;
  std::thread persist_thread;
  std::thread snapshot_thread;
  bool stopping = false;  // loop thread
  std::atomic<bool> checkpoints_stopped{false};
};

namespace {

absl::Status Indeterminate(std::string message) {
  absl::Status s = absl::UnavailableError(std::move(message));
  s.SetPayload(kIndeterminatePayload, absl::Cord("true"));
  return s;
}

}  // namespace

NodeDriver::NodeDriver(DriverOptions options, storage::RaftLog* log, Fsm* fsm,
                       const TransportFactory& make_transport, metrics::Registry* metrics)
    : options_(std::move(options)),
      log_(log),
      fsm_(fsm),
      loop_(std::make_unique<Loop>()),
      peer_warnings_(PeerWarnings::Options{
          std::chrono::milliseconds(std::min(2000, options_.peer_warning_interval_ms)),
          std::chrono::milliseconds(options_.peer_warning_interval_ms)}) {
  transport_ = make_transport(this, [this](uint64_t conf_index) { ReportRemoved(conf_index); });
  fsync_seconds_ = metrics->GetHistogram(
      "concordance_raft_fsync_duration_seconds",
      "Time to make one Ready durable in raft.db (one transaction, one fsync).",
      metrics::LatencyBuckets());
  persist_batch_entries_ = metrics->GetHistogram(
      "concordance_raft_persist_batch_entries", "Log entries per raft.db transaction.",
      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096});
  proposals_total_ = metrics->GetCounter("concordance_raft_proposals_total",
                                         "Proposals accepted by this node as leader.");
  proposals_failed_ = metrics->GetCounter(
      "concordance_raft_proposals_failed_total",
      "Proposals answered with an error (not leader, lost, timed out).");
  term_gauge_ = metrics->GetGauge("concordance_raft_term", "Current Raft term.");
  commit_gauge_ = metrics->GetGauge("concordance_raft_commit_index", "Raft commit index.");
  applied_gauge_ = metrics->GetGauge("concordance_raft_applied_index", "Applied index.");
  leader_gauge_ = metrics->GetGauge("concordance_raft_is_leader", "1 if this node leads.");
  snapshots_total_ = metrics->GetCounter("concordance_raft_snapshots_total",
                                         "Snapshot images made by this node for followers.");
  compactions_total_ = metrics->GetCounter(
      "concordance_raft_log_compactions_total",
      "Log compactions without an image (state.db fsynced past the point).");
  read_rounds_ = metrics->GetCounter(
      "concordance_raft_read_index_rounds_total",
      "ReadIndex rounds started; each confirms every linearizable read queued before it.");
  inbox_full_ = metrics->GetCounter(
      "concordance_raft_inbox_full_total",
      "Times a peer connection was paused because the Raft loop's inbox was full.");
  auto stage = [metrics](const char* name) {
    return metrics->GetHistogram(metrics::kWriteStageName, metrics::kWriteStageHelp,
                                 metrics::StageBuckets(), {{"stage", name}});
  };
  stage_intake_ = stage("intake");
  stage_append_ = stage("append");
  stage_replicate_ = stage("replicate");
  stage_apply_ = stage("apply");
  stage_answer_ = stage("answer");
}

NodeDriver::~NodeDriver() { Stop(); }

absl::Status NodeDriver::Start() {
  raft::Config c = options_.raft;
  c.applied = fsm_->applied_index();
  node_ = std::make_unique<raft::Node>(c, log_);
  pipeline_ = std::make_unique<raft::ReadyPipeline>(node_.get(), log_,
                                                    static_cast<raft::PipelineHost*>(this));
  last_conf_ = node_->conf_state();
  last_conf_index_ = node_->conf_index();
  transport_->UpdatePeers(last_conf_, last_conf_index_);
  NoteConfChange();
  PublishStatus();
  loop_->persist_thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "raft-persist");
    loop_->persist.run();
  });
  loop_->snapshot_thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "raft-snapshot");
    loop_->snapshot.run();
  });
  net::post(loop_->snapshot, [this] { CheckpointWals(); });
  loop_->loop_thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "raft-loop");
    loop_->loop.run();
  });
  Post([this] {
    // Alone in its configuration, a node need not wait an election timeout.
    if (node_->conf_state().voters_size() == 1 && node_->IsVoter(node_->id())) {
      node_->CampaignNow();
    }
    Tick();
    SweepTimeouts();
  });
  LOG(INFO) << "raft node " << c.id << " started: term " << node_->term() << ", applied "
            << c.applied << ", last index " << node_->last_index() << ", "
            << node_->conf_state().voters_size() << " voters";
  return absl::OkStatus();
}

void NodeDriver::Stop() {
  if (!loop_->loop_thread.joinable()) return;
  Post([this] {
    loop_->stopping = true;
    pipeline_->Stop();
    loop_->tick.cancel();
    loop_->sweep.cancel();
    for (auto& [i, p] : proposals_) p.done(Indeterminate("node shutting down; the write may or may not have been applied"));
    proposals_.clear();
    for (auto& [i, p] : conf_changes_) p.done(Indeterminate("node shutting down"));
    conf_changes_.clear();
    for (auto& reply : status_replies_) reply();  // committed and applied already
    status_replies_.clear();
    for (auto& [i, round] : reads_) {
      for (Waiter& w : round.waiters) w.done(absl::UnavailableError("node shutting down"));
    }
    reads_.clear();
    for (Waiter& w : reads_waiting_) w.done(absl::UnavailableError("node shutting down"));
    reads_waiting_.clear();
    for (auto& [i, w] : applied_waiters_) w.done(absl::UnavailableError("node shutting down"));
    applied_waiters_.clear();
    for (auto& [i, w] : seq_waiters_) w.done(absl::UnavailableError("node shutting down"));
    seq_waiters_.clear();
    for (Waiter& w : leader_change_waiters_) w.done(absl::UnavailableError("node shutting down"));
    leader_change_waiters_.clear();
  });
  // Let the snapshot and persist threads finish what they have (their
  // completions still run on the loop), then stop everything.
  loop_->checkpoints_stopped = true;  // no re-arming after this
  net::post(loop_->snapshot, [this] { loop_->checkpoint.cancel(); });
  loop_->snapshot_work.reset();
  loop_->snapshot_thread.join();
  loop_->persist_work.reset();
  loop_->persist_thread.join();
  loop_->loop_work.reset();
  // Drain the loop's queue briefly, then stop it.
  Post([this] { loop_->loop.stop(); });
  loop_->loop_thread.join();
}

absl::Status NodeDriver::CheckServing() const {
  if (!Removed()) return absl::OkStatus();
  return absl::UnavailableError(
      "this node was removed from the cluster: it serves no reads or writes; use another "
      "member, or restart this node with --join to add it back");
}

void NodeDriver::Post(std::function<void()> fn) { net::post(loop_->loop, std::move(fn)); }

void NodeDriver::RunAfter(int delay_ms, std::function<void()> fn) {
  Post([this, delay_ms, fn = std::move(fn)]() mutable {
    auto timer = std::make_shared<net::steady_timer>(loop_->loop, std::chrono::milliseconds(delay_ms));
    timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code&) { fn(); });
  });
}

absl::Status NodeDriver::NotLeader() const {
  const std::string& lead = node_->leader();
  if (lead.empty() || lead == node_->id()) {
    return absl::UnavailableError("no leader is elected right now; retry shortly");
  }
  absl::Status s = absl::UnavailableError(absl::StrCat("not the leader; ", lead, " leads"));
  s.SetPayload(kLeaderIdPayload, absl::Cord(lead));
  std::optional<raft::Member> m = node_->FindMember(lead);
  s.SetPayload(kLeaderAddressPayload, absl::Cord(m ? m->address() : ""));
  return s;
}

void NodeDriver::Propose(std::string command, ProposalCallback done, AnswerOn answer_on) {
  bool schedule;
  {
    absl::MutexLock l(&intake_mu_);
    intake_.push_back(Intake{std::move(command), std::move(done), Steady::now(), answer_on});
    schedule = !intake_scheduled_;
    intake_scheduled_ = true;
  }
  if (schedule) Post([this] { DrainIntake(); });
}

void NodeDriver::DrainIntake() {
  std::vector<Intake> batch;
  {
    absl::MutexLock l(&intake_mu_);
    batch.swap(intake_);
    intake_scheduled_ = false;
  }
  const auto now = Steady::now();
  auto deadline = now + std::chrono::milliseconds(options_.proposal_timeout_ms);
  for (auto& [command, done, at, answer_on] : batch) {
    if (loop_->stopping) {
      done(absl::UnavailableError("node shutting down"));
      continue;
    }
    if (node_->role() != raft::Role::kLeader) {
      proposals_failed_->Inc();
      done(NotLeader());
      continue;
    }
    if (absl::Status room = options_.admit_write ? options_.admit_write() : absl::OkStatus(); !room.ok()) {
      proposals_failed_->Inc();
      done(room);  // the disk is nearly full: nothing was proposed
      continue;
    }
    if (proposals_.size() >= options_.max_pending_proposals) {
      proposals_failed_->Inc();
      done(absl::UnavailableError(absl::StrCat(
          "too many writes in flight (", proposals_.size(), "); retry shortly")));
      continue;
    }
    auto r = node_->Propose(std::move(command));
    if (!r.ok()) {
      proposals_failed_->Inc();
      done(absl::UnavailableError(r.status().message()));
      continue;
    }
    proposals_total_->Inc();
    stage_intake_->Observe(std::chrono::duration<double>(now - at).count());
    proposals_[r->first] = Pending{r->second, std::move(done), deadline, now, answer_on};
  }
  Process();
}

void NodeDriver::ProposeConfChange(raft::ConfChange::Type type, raft::Member member,
                                   DoneCallback done) {
  Post([this, type, member = std::move(member), done = std::move(done)]() mutable {
    if (loop_->stopping) return done(absl::UnavailableError("node shutting down"));
    if (node_->role() != raft::Role::kLeader) return done(NotLeader());
    auto r = node_->ProposeConfChange(type, member);
    if (!r.ok()) {
      // "not yet": a retryable condition, not a client error.
      if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
        return done(absl::UnavailableError(r.status().message()));
      }
      return done(r.status());
    }
    conf_changes_[r->first] = PendingConf{r->second, std::move(done),
                                          Steady::now() + std::chrono::milliseconds(options_.proposal_timeout_ms)};
    Process();
  });
}

void NodeDriver::ReadIndex(DoneCallback done) {
  Post([this, done = std::move(done)]() mutable {
    if (loop_->stopping) return done(absl::UnavailableError("node shutting down"));
    reads_waiting_.push_back(Waiter{
        std::move(done), Steady::now() + std::chrono::milliseconds(options_.proposal_timeout_ms)});
    if (reads_.empty()) {
      StartReadRound();
      ScheduleProcess();  // reads that arrive meanwhile join this round's successor
    }
  });
}

void NodeDriver::StartReadRound() {
  if (reads_waiting_.empty()) return;
  uint64_t id = ++next_read_id_;
  reads_[id] = ReadRound{std::move(reads_waiting_), Steady::now()};
  reads_waiting_.clear();
  read_rounds_->Inc();
  node_->ReadIndex(id);
}

void NodeDriver::FinishReadRound(const raft::ReadState& rs) {
  auto it = reads_.find(rs.request_id);
  if (it == reads_.end()) return;
  std::vector<Waiter> round = std::move(it->second.waiters);
  reads_.erase(it);
  for (Waiter& w : round) {
    if (!rs.ok) {
      w.done(absl::UnavailableError(
          node_->leader().empty() ? "no leader is elected right now; retry shortly"
                                  : "the leader could not confirm its leadership; retry"));
    } else if (fsm_->applied_index() >= rs.index) {
      w.done(absl::OkStatus());
    } else {
      applied_waiters_.emplace(rs.index, std::move(w));
    }
  }
  if (reads_.empty()) StartReadRound();
}

void NodeDriver::WaitForSeq(int64_t seq, int timeout_ms, DoneCallback done) {
  Post([this, seq, timeout_ms, done = std::move(done)]() mutable {
    if (fsm_->last_seq() >= seq) return done(absl::OkStatus());
    if (loop_->stopping) return done(absl::UnavailableError("node shutting down"));
    seq_waiters_.emplace(seq, Waiter{std::move(done), Steady::now() + std::chrono::milliseconds(timeout_ms)});
  });
}

void NodeDriver::TransferLeadership(std::string target, DoneCallback done) {
  Post([this, target = std::move(target), done = std::move(done)]() mutable {
    if (loop_->stopping) return done(absl::UnavailableError("node shutting down"));
    if (node_->role() != raft::Role::kLeader) return done(NotLeader());
    absl::Status s = node_->TransferLeadership(target);
    if (!s.ok()) return done(s);
    if (target == options_.raft.id) return done(absl::OkStatus());  // it leads already
    // The target must catch up, then win an election; on a loaded machine
    // (an fsync of its vote, scheduling) that can take longer than one
    // election timeout.
    int timeout_ms = std::max(3000, options_.raft.election_ticks_max * options_.tick_ms * 2);
    leader_change_waiters_.push_back(
        Waiter{std::move(done), Steady::now() + std::chrono::milliseconds(timeout_ms), target});
    Process();
  });
}

bool NodeDriver::Deliver(raft::Message m, size_t bytes, std::function<void()> on_room) {
  if (Step(std::move(m), bytes)) return true;
  WhenInboxHasRoom(std::move(on_room));
  return false;
}

bool NodeDriver::Step(raft::Message m, size_t bytes) {
  bool schedule, room;
  {
    absl::MutexLock l(&intake_mu_);
    inbox_.push_back(std::move(m));
    inbox_bytes_ += bytes;
    schedule = !inbox_scheduled_;
    inbox_scheduled_ = true;
    room = inbox_.size() < options_.max_inbox_messages && inbox_bytes_ < options_.max_inbox_bytes;
  }
  if (schedule) Post([this] { DrainInbox(); });
  if (!room) inbox_full_->Inc();
  return room;
}

void NodeDriver::WhenInboxHasRoom(std::function<void()> fn) {
  {
    absl::MutexLock l(&intake_mu_);
    bool room =
        inbox_.size() < options_.max_inbox_messages && inbox_bytes_ < options_.max_inbox_bytes;
    if (!room) {
      inbox_room_waiters_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

void NodeDriver::DrainInbox() {
  std::vector<raft::Message> batch;
  std::vector<std::function<void()>> waiters;
  {
    absl::MutexLock l(&intake_mu_);
    batch.swap(inbox_);
    inbox_bytes_ = 0;
    inbox_scheduled_ = false;
    waiters.swap(inbox_room_waiters_);
  }
  if (!loop_->stopping) {
    for (const raft::Message& m : batch) node_->Step(m);
    Process();
  }
  for (auto& fn : waiters) fn();
}

void NodeDriver::ReportRemoved(uint64_t conf_index) {
  Post([this, conf_index] {
    if (conf_index <= removed_at_) return;
    removed_at_ = conf_index;
    NoteConfChange();
    PublishStatus();
  });
}

void NodeDriver::NoteConfChange() {
  const raft::ConfState& conf = last_conf_;
  const std::string& self = options_.raft.id;
  bool member = false;
  for (const auto* list : {&conf.voters(), &conf.learners()}) {
    for (const raft::Member& m : *list) member |= m.node_id() == self;
  }
  if (member) member_at_ = std::max(member_at_, last_conf_index_);
  for (const std::string& id : conf.removed()) {
    if (id == self) removed_at_ = std::max(removed_at_, last_conf_index_);
  }
  bool removed = removed_at_ > member_at_;
  if (removed && !removal_logged_) {
    LOG(ERROR) << self << " was removed from the cluster (configuration index " << removed_at_
               << "): it no longer serves reads or writes and /api/v1/ready answers 503. "
                  "To rejoin, restart it with --join=<member address>; otherwise stop it.";
  } else if (!removed && removal_logged_) {
    LOG(INFO) << self << " is a member again (configuration index " << member_at_ << ")";
  }
  removal_logged_ = removed;
}

void NodeDriver::Tick() {
  if (loop_->stopping) return;
  node_->Tick();
  pipeline_->AfterTick();
  PublishStatus();
  WarnAboutPeers();
  loop_->tick.expires_after(std::chrono::milliseconds(options_.tick_ms));
  loop_->tick.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

void NodeDriver::WarnAboutPeers() {
  auto now = Steady::now();
  if (now < next_peer_check_) return;
  next_peer_check_ = now + std::chrono::milliseconds(100);
  PeerWarnings::View view;
  view.self_id = node_->id();
  view.leader_id = node_->leader();
  for (const raft::MemberStatus& m : node_->Members()) {
    view.members.push_back({m.member.node_id(), m.member.address(), m.voter,
                            transport_->Reachable(m.member.node_id())});
  }
  if (removed_flag_) view.members.clear();  // it serves as no member
  peer_warnings_.Observe(view, now);
}

void NodeDriver::ScheduleProcess() {
  if (process_scheduled_) return;
  process_scheduled_ = true;
  Post([this] {
    process_scheduled_ = false;
    Process();
  });
}

void NodeDriver::Process() { pipeline_->Process(); }

// ---- raft::PipelineHost: what each step of a Ready does here ----

void NodeDriver::PostToLoop(std::function<void()> task) { Post(std::move(task)); }

void NodeDriver::PostToPersist(std::function<void()> task) {
  net::post(loop_->persist, std::move(task));
}

void NodeDriver::PostToSnapshot(std::function<void()> task) {
  net::post(loop_->snapshot, std::move(task));
}

void NodeDriver::Send(std::vector<raft::Message> messages) {
  transport_->Send(std::move(messages));
}

void NodeDriver::Restore(const storage::Snapshot& snapshot) {
  absl::Status s = fsm_->Restore(*snapshot.data);
  if (!s.ok()) FatalStorageError("cannot restore state.db from a snapshot", s);
  LOG(INFO) << options_.raft.id << " installed a snapshot at index " << snapshot.meta.index();
}

void NodeDriver::OnReadStates(const std::vector<raft::ReadState>& states) {
  for (const raft::ReadState& rs : states) FinishReadRound(rs);
}

void NodeDriver::OnSoftState(const raft::SoftState& state) {
  LOG(INFO) << options_.raft.id << " is now " << raft::RoleName(state.role) << " at term "
            << node_->term() << (state.leader.empty() ? "" : ", leader " + state.leader);
  if (state.leader.empty() || state.leader == options_.raft.id) return;
  // Answered with the replies of this Ready, once the status names the new
  // leader.
  for (Waiter& w : leader_change_waiters_) {
    absl::Status outcome =
        w.target.empty() || w.target == state.leader
            ? absl::OkStatus()
            : absl::AbortedError(
                  absl::StrCat("leadership moved to ", state.leader, ", not to ", w.target));
    status_replies_.push_back([done = std::move(w.done), outcome] { done(outcome); });
  }
  leader_change_waiters_.clear();
}

std::function<void()> NodeDriver::OnAdvanced(const raft::Ready& rd) {
  if (!rd.entries.empty()) {
    // The leader's own append of these entries is durable now.
    const auto now = Steady::now();
    for (auto it = proposals_.lower_bound(rd.entries.front().index());
         it != proposals_.end() && it->first <= rd.entries.back().index(); ++it) {
      stage_append_->Observe(std::chrono::duration<double>(now - it->second.proposed_at).count());
    }
  }
  // The changes just applied are in effect now: their replies go out once
  // the pipeline has moved on and the status shows them (not those of a
  // Ready handled meanwhile).
  auto replies = std::make_shared<std::vector<std::function<void()>>>(std::move(status_replies_));
  status_replies_.clear();
  if (rd.conf_state || rd.snapshot || node_->conf_index() != last_conf_index_ ||
      !(node_->conf_state().SerializeAsString() == last_conf_.SerializeAsString())) {
    last_conf_ = node_->conf_state();
    last_conf_index_ = node_->conf_index();
    transport_->UpdatePeers(last_conf_, last_conf_index_);
    NoteConfChange();
  }
  return [this, replies] {
    PublishStatus();
    for (auto& reply : *replies) reply();
  };
}

void NodeDriver::OnPersistStarted() { persist_started_ = Steady::now(); }

void NodeDriver::OnDurable(const raft::Ready& rd) {
  fsync_seconds_->Observe(std::chrono::duration<double>(Steady::now() - persist_started_).count());
  if (!rd.entries.empty()) persist_batch_entries_->Observe(rd.entries.size());
}

void NodeDriver::OnSnapshotRecorded(const raft::SnapshotMeta& meta) {
  if (storage::LogStore::HasImage(meta)) {
    snapshots_total_->Inc();
    LOG(INFO) << options_.raft.id << " made a snapshot image at index " << meta.index() << " ("
              << meta.size() << " bytes) for a follower that needs one";
  } else {
    compactions_total_->Inc();
    VLOG(1) << options_.raft.id << " compacted the log through " << meta.index();
  }
}

uint64_t NodeDriver::StateApplied() const { return fsm_->applied_index(); }

absl::Status NodeDriver::SyncState() { return fsm_->store()->SyncToDisk(); }

absl::StatusOr<raft::PipelineHost::Image> NodeDriver::PinState(uint64_t index) {
  absl::StatusOr<std::unique_ptr<storage::KvStore::Pinned>> pinned = fsm_->store()->Pin();
  if (!pinned.ok()) return pinned.status();
  if ((*pinned)->applied_index() != index) {
    return absl::FailedPreconditionError("the applied index moved");
  }
  auto view = std::shared_ptr<storage::KvStore::Pinned>(std::move(*pinned));
  return Image([view]() { return view->Serialize(); });
}

void NodeDriver::Fatal(const std::string& what, const absl::Status& status) {
  FatalStorageError(what, status);
}

bool NodeDriver::Failpoint(const char* name) {
  failpoint::Hit(name);  // crash or sleep; an 'error' here changes nothing
  return false;
}

void NodeDriver::Apply(const std::vector<raft::LogEntry>& entries) {
  if (entries.empty()) return;
  const auto committed_at = Steady::now();
  std::vector<storage::CommandResult> results;
  absl::Status s = fsm_->Apply(entries, &results);
  // A state machine that cannot apply would diverge from its replicas.
  if (!s.ok()) FatalStorageError("cannot apply committed entries to state.db", s);
  const auto applied_at = Steady::now();
  const double apply_seconds = std::chrono::duration<double>(applied_at - committed_at).count();
  // Answers for the reply executor, run there as one task, in order.
  struct Answer {
    ProposalCallback done;
    absl::StatusOr<storage::CommandResult> outcome;
  };
  std::vector<Answer> elsewhere;
  size_t r = 0;
  for (const raft::LogEntry& e : entries) {
    while (r < results.size() && results[r].index < e.index()) ++r;
    auto p = proposals_.find(e.index());
    if (p != proposals_.end()) {
      Pending pending = std::move(p->second);
      proposals_.erase(p);
      stage_replicate_->Observe(
          std::chrono::duration<double>(committed_at - pending.proposed_at).count());
      stage_apply_->Observe(apply_seconds);
      absl::StatusOr<storage::CommandResult> outcome;
      if (pending.term != e.term()) {
        proposals_failed_->Inc();
        outcome = absl::UnavailableError(
            "leadership changed before the write committed; it was not applied, retry");
      } else if (r < results.size() && results[r].index == e.index()) {
        outcome = std::move(results[r]);
      } else {
        outcome = absl::InternalError("the committed entry produced no result");
      }
      if (pending.answer_on == AnswerOn::kReplyExecutor && options_.reply_executor) {
        elsewhere.push_back(Answer{std::move(pending.done), std::move(outcome)});
      } else {
        const auto answer_start = Steady::now();
        pending.done(std::move(outcome));
        stage_answer_->Observe(
            std::chrono::duration<double>(Steady::now() - answer_start).count());
      }
    }
    auto c = conf_changes_.find(e.index());
    if (c != conf_changes_.end()) {
      PendingConf pending = std::move(c->second);
      conf_changes_.erase(c);
      // Answered once the core has the change in effect (after Advance).
      absl::Status outcome = pending.term == e.term()
                                 ? absl::OkStatus()
                                 : absl::UnavailableError("leadership changed; the change was not applied");
      status_replies_.push_back([done = std::move(pending.done), outcome] { done(outcome); });
    }
  }
  if (!elsewhere.empty()) {
    auto answers = std::make_shared<std::vector<Answer>>(std::move(elsewhere));
    options_.reply_executor([answers, stage = stage_answer_] {
      for (Answer& a : *answers) {
        const auto answer_start = Steady::now();
        a.done(std::move(a.outcome));
        stage->Observe(std::chrono::duration<double>(Steady::now() - answer_start).count());
      }
    });
  }
  ReleaseWaiters();
}

void NodeDriver::ReleaseWaiters() {
  uint64_t applied = fsm_->applied_index();
  while (!applied_waiters_.empty() && applied_waiters_.begin()->first <= applied) {
    Waiter w = std::move(applied_waiters_.begin()->second);
    applied_waiters_.erase(applied_waiters_.begin());
    w.done(absl::OkStatus());
  }
  int64_t seq = fsm_->last_seq();
  while (!seq_waiters_.empty() && seq_waiters_.begin()->first <= seq) {
    Waiter w = std::move(seq_waiters_.begin()->second);
    seq_waiters_.erase(seq_waiters_.begin());
    w.done(absl::OkStatus());
  }
}

void NodeDriver::CheckpointWals() {
  // Both databases' WALs are checkpointed here, off the threads that write
  // them, so a checkpoint never stalls group commit or apply.
  absl::Status s = log_->CheckpointWal();
  if (s.ok()) s = fsm_->store()->CheckpointWal();
  if (!s.ok()) {
    LOG_EVERY_N(WARNING, 100) << s;
  }
  if (loop_->checkpoints_stopped) return;
  loop_->checkpoint.expires_after(std::chrono::milliseconds(200));
  loop_->checkpoint.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) CheckpointWals();
  });
}

void NodeDriver::SweepReadRounds(std::chrono::steady_clock::time_point now) {
  // A read round whose answer has not come within an election timeout was
  // lost on the way: its reads go into the next round, unless they are past
  // their deadline.
  auto retry = std::chrono::milliseconds(options_.raft.election_ticks_max * options_.tick_ms);
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (now - it->second.started >= retry) {
      std::vector<Waiter>& lost = it->second.waiters;
      reads_waiting_.insert(reads_waiting_.begin(), std::make_move_iterator(lost.begin()),
                            std::make_move_iterator(lost.end()));
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = reads_waiting_.begin(); it != reads_waiting_.end();) {
    if (it->deadline <= now) {
      it->done(absl::UnavailableError("the linearizable read could not be confirmed in time; retry"));
      it = reads_waiting_.erase(it);
    } else {
      ++it;
    }
  }
  if (reads_.empty() && !reads_waiting_.empty()) {
    StartReadRound();
    Process();
  }
}

void NodeDriver::SweepTimeouts() {
  if (loop_->stopping) return;
  auto now = Steady::now();
  for (auto it = proposals_.begin(); it != proposals_.end();) {
    if (it->second.deadline <= now) {
      proposals_failed_->Inc();
      it->second.done(Indeterminate(absl::StrCat(
          "no quorum committed the write within ", options_.proposal_timeout_ms,
          " ms; it may or may not have been applied")));
      it = proposals_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = conf_changes_.begin(); it != conf_changes_.end();) {
    if (it->second.deadline <= now) {
      it->second.done(Indeterminate("the membership change did not commit in time; it may or may not apply"));
      it = conf_changes_.erase(it);
    } else {
      ++it;
    }
  }
  auto expire = [now](auto& waiters, const char* what) {
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (it->second.deadline <= now) {
        it->second.done(absl::UnavailableError(what));
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
  };
  SweepReadRounds(now);
  expire(applied_waiters_, "this node did not catch up in time for the read; retry");
  expire(seq_waiters_, "this node has not applied minSeq yet; retry, or read from the leader");
  for (auto it = leader_change_waiters_.begin(); it != leader_change_waiters_.end();) {
    if (it->deadline <= now) {
      // The transfer may still complete: not safe to retry blindly.
      it->done(Indeterminate("leadership did not move within an election timeout"));
      it = leader_change_waiters_.erase(it);
    } else {
      ++it;
    }
  }
  loop_->sweep.expires_after(std::chrono::milliseconds(50));
  loop_->sweep.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) SweepTimeouts();
  });
}

void NodeDriver::PublishStatus() {
  NodeStatus s;
  s.node_id = node_->id();
  s.role = node_->role();
  s.voter = node_->IsVoter(node_->id());
  s.leader_id = node_->leader();
  if (!s.leader_id.empty()) {
    std::optional<raft::Member> m = node_->FindMember(s.leader_id);
    if (m) s.leader_address = m->address();
  }
  s.term = node_->term();
  s.commit_index = node_->commit_index();
  s.applied_index = fsm_->applied_index();
  s.last_index = node_->last_index();
  s.members = node_->Members();
  s.leader_committed_in_term = node_->role() == raft::Role::kLeader && node_->CommittedInCurrentTerm();
  s.removed = removed_at_ > member_at_;
  removed_flag_ = s.removed;
  term_gauge_->Set(s.term);
  commit_gauge_->Set(s.commit_index);
  applied_gauge_->Set(s.applied_index);
  leader_gauge_->Set(s.role == raft::Role::kLeader ? 1 : 0);
  is_leader_ = s.role == raft::Role::kLeader;
  absl::MutexLock l(&status_mu_);
  status_ = std::move(s);
}

NodeStatus NodeDriver::Status() const {
  absl::MutexLock l(&status_mu_);
  return status_;
}

}  // namespace concordance
