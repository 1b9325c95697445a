// NodeDriver: runs the Raft core (raft::Node) on one event-loop thread and
// carries out its Ready. The order of the steps (send a leader's appends at
// once, persist on the persist thread, apply while the fsync runs, send the
// rest once durable, Advance, compact or make an image) is
// raft::ReadyPipeline's, shared with the simulator, so simulated seeds run
// exactly what ships; this class says what each step does with threads,
// SQLite and sockets:
//
//   - ticks every tick_ms; steps peer messages; accepts proposals;
//   - a Ready's durable part is one job on the persist thread — one raft.db
//     transaction, one fsync (group commit: all the entries proposed while
//     the previous fsync ran go into the next one); its completion is
//     posted back to the loop;
//   - state images and state.db syncs run on the snapshot thread;
//   - answers proposals when their entry applies, or after proposal_timeout
//     with an Unavailable status saying the write may or may not have been
//     applied; linearizable reads once their ReadIndex is applied.
//
// Thread-safe entry points post to the loop. Callbacks run on the loop.
#ifndef CONCORDANCE_CONCORDANCE_NODE_DRIVER_H_
#define CONCORDANCE_CONCORDANCE_NODE_DRIVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "concordance/clock.h"
#include "concordance/fsm.h"
#include "concordance/peer_warnings.h"
#include "gateway/api.h"
#include "gateway/raft_transport.h"
#include "raft/node.h"
#include "raft/ready_pipeline.h"
#include "storage/raft_log.h"
#include "util/metrics.h"

namespace concordance {

struct DriverOptions {
  raft::Config raft;  // id, election/heartbeat ticks, limits
  int tick_ms = 10;
  int proposal_timeout_ms = 5000;
  // Proposals waiting for commitment beyond which new ones are refused
  // (503, retryable) instead of queueing without bound.
  size_t max_pending_proposals = 8192;
  // Peer messages waiting for the loop beyond which Step() tells the
  // caller to stop reading (the /raft session pauses until there is room).
  size_t max_inbox_messages = 4096;
  size_t max_inbox_bytes = 64 << 20;
  // While a member is unreachable or the quorum lost, a WARNING repeats
  // this often (PeerWarnings).
  int peer_warning_interval_ms = 10000;
  // Asked before each proposal on the leader; an error refuses it (the
  // disk-space guard). Null: every proposal is admitted.
  std::function<absl::Status()> admit_write;
  // Runs the answers of proposals made with AnswerOn::kReplyExecutor, one
  // task per applied batch, in order (the server's I/O threads, where the
  // responses are encoded and written), so encoding them does not hold up
  // the Raft loop. Null: they run on the loop.
  std::function<void(std::function<void()>)> reply_executor;
};

// Where a proposal's callback runs once its entry applies.
enum class AnswerOn {
  kLoop,           // on the Raft loop (internal proposers that own loop state)
  kReplyExecutor,  // DriverOptions::reply_executor, if set (client requests)
};

// What a node looks like from outside, for status pages and redirects.
struct NodeStatus {
  std::string node_id;
  raft::Role role = raft::Role::kFollower;
  bool voter = false;
  std::string leader_id;
  std::string leader_address;
  uint64_t term = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_index = 0;
  std::vector<raft::MemberStatus> members;
  bool leader_committed_in_term = false;
  // This node was removed from the configuration (it applied its removal,
  // or a member refused it as removed) and has not been added back.
  bool removed = false;
};

class NodeDriver : public gateway::RaftInbox, private raft::PipelineHost {
 public:
  using ProposalCallback = std::function<void(absl::StatusOr<storage::CommandResult>)>;
  using DoneCallback = std::function<void(absl::Status)>;
  // Makes the driver's transport: given the inbox peers' messages go to
  // (the driver) and what to call when a member says this node was removed.
  using TransportFactory = std::function<std::unique_ptr<gateway::RaftTransport>(
      gateway::RaftInbox* inbox, std::function<void(uint64_t conf_index)> on_removed)>;

  NodeDriver(DriverOptions options, storage::RaftLog* log, Fsm* fsm,
             const TransportFactory& make_transport, metrics::Registry* metrics);
  ~NodeDriver() override;

  // Creates the core from the durable state and starts the loop threads.
  absl::Status Start();
  // Stops ticking, fails pending requests, waits for the persist thread to
  // drain (everything acknowledged is already durable).
  void Stop();

  // ---- Thread-safe ----
  // Proposes a kv.Command. On a follower: Unavailable naming the leader.
  // Refusals are answered on the loop; the outcome of an applied entry
  // where `answer_on` says.
  void Propose(std::string command, ProposalCallback done, AnswerOn answer_on = AnswerOn::kLoop);
  void ProposeConfChange(raft::ConfChange::Type type, raft::Member member, DoneCallback done);
  // Calls `done` once a linearizable read may be served from this node's
  // state (ReadIndex confirmed and applied here).
  void ReadIndex(DoneCallback done);
  // Calls `done` once this node has applied changelog seq `seq`, or with
  // Unavailable after timeout_ms.
  void WaitForSeq(int64_t seq, int timeout_ms, DoneCallback done);
  // Starts a transfer and calls `done` once another node leads (or with
  // Unavailable after an election timeout).
  void TransferLeadership(std::string target, DoneCallback done);
  // gateway::RaftInbox: queues a peer message for the loop, in one bounded
  // inbox (a burst costs one task on the loop).
  bool Deliver(raft::Message m, size_t bytes, std::function<void()> on_room) override;
  // A member refused this node as removed by the configuration entry at
  // `conf_index`: unless it has since been added back, stop serving.
  void ReportRemoved(uint64_t conf_index);
  const gateway::RaftTransport* transport() const { return transport_.get(); }
  // Runs `fn` on the loop after `delay_ms`.
  void RunAfter(int delay_ms, std::function<void()> fn);
  // Runs `fn` on the loop.
  void Post(std::function<void()> fn);
  NodeStatus Status() const;
  bool IsLeader() const { return is_leader_.load(); }
  // Whether this node was removed from the cluster (see NodeStatus).
  bool Removed() const { return removed_flag_.load(); }
  // Unavailable ("removed from the cluster") when it was: such a node
  // serves no reads or writes.
  absl::Status CheckServing() const;

 private:
  struct Loop;
  struct Pending {
    uint64_t term;
    ProposalCallback done;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point proposed_at;  // for the stage metrics
    AnswerOn answer_on;
  };
  struct Intake {
    std::string command;
    ProposalCallback done;
    std::chrono::steady_clock::time_point at;
    AnswerOn answer_on;
  };
  struct PendingConf {
    uint64_t term;
    DoneCallback done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Waiter {
    DoneCallback done;
    std::chrono::steady_clock::time_point deadline;
    std::string target;  // transfer-leadership: the node asked for ("" = any)
  };

  // False when the inbox is now full (the message is queued).
  bool Step(raft::Message m, size_t bytes);
  // Calls `fn` (once, on the loop or at once) when the inbox has room.
  void WhenInboxHasRoom(std::function<void()> fn);

  // Loop thread only.
  void DrainIntake();
  void DrainInbox();
  void StartReadRound();
  void FinishReadRound(const raft::ReadState& rs);
  void NoteConfChange();
  void Tick();
  // Logs (rate-limited) which members are unreachable and whether the
  // quorum is lost; looked at every 100 ms.
  void WarnAboutPeers();
  // Runs Process() once after every task already queued on the loop: a
  // burst of proposals or peer messages costs one pass (one append round,
  // one Ready).
  void ScheduleProcess();
  void Process();
  void ReleaseWaiters();
  void CheckpointWals();  // snapshot thread

  // raft::PipelineHost: how each step of a Ready is carried out here (the
  // order of the steps is the pipeline's, shared with the simulator).
  void PostToLoop(std::function<void()> task) override;
  void PostToPersist(std::function<void()> task) override;
  void PostToSnapshot(std::function<void()> task) override;
  void Send(std::vector<raft::Message> messages) override;
  void Apply(const std::vector<raft::LogEntry>& entries) override;  // answers proposals
  void Restore(const storage::Snapshot& snapshot) override;
  void OnReadStates(const std::vector<raft::ReadState>& states) override;
  void OnSoftState(const raft::SoftState& state) override;
  std::function<void()> OnAdvanced(const raft::Ready& rd) override;
  void OnPersistStarted() override;
  void OnDurable(const raft::Ready& rd) override;
  void OnSnapshotRecorded(const raft::SnapshotMeta& meta) override;
  uint64_t StateApplied() const override;
  absl::Status SyncState() override;
  absl::StatusOr<Image> PinState(uint64_t index) override;
  void Fatal(const std::string& what, const absl::Status& status) override;
  bool Failpoint(const char* name) override;
  void SweepTimeouts();
  void SweepReadRounds(std::chrono::steady_clock::time_point now);
  void PublishStatus();
  absl::Status NotLeader() const;

  DriverOptions options_;
  storage::RaftLog* log_;
  Fsm* fsm_;
  std::unique_ptr<Loop> loop_;
  // Stopped and destroyed after the loop (its threads call into us).
  std::unique_ptr<gateway::RaftTransport> transport_;
  std::unique_ptr<raft::Node> node_;
  std::unique_ptr<raft::ReadyPipeline> pipeline_;
  std::chrono::steady_clock::time_point persist_started_;  // persist thread only

  // Loop-thread state.
  bool process_scheduled_ = false;
  uint64_t next_read_id_ = 0;
  std::map<uint64_t, Pending> proposals_;     // by log index
  std::map<uint64_t, PendingConf> conf_changes_;
  // Replies (membership changes applied, leadership moved) answered once
  // the published status shows what they did.
  std::vector<std::function<void()>> status_replies_;
  // Linearizable reads are batched: one ReadIndex round at a time confirms
  // every read that arrived before it started. A round whose answer has
  // not come within an election timeout (lost on the way) is started again
  // with the same reads.
  struct ReadRound {
    std::vector<Waiter> waiters;
    std::chrono::steady_clock::time_point started;
  };
  std::vector<Waiter> reads_waiting_;   // for the next round
  std::map<uint64_t, ReadRound> reads_;  // by round (request id)
  std::multimap<uint64_t, Waiter> applied_waiters_;  // by applied index
  std::multimap<int64_t, Waiter> seq_waiters_;       // by changelog seq
  std::vector<Waiter> leader_change_waiters_;        // transfer-leadership
  raft::ConfState last_conf_;
  uint64_t last_conf_index_ = 0;
  // Removal bookkeeping (configuration indexes): removed while
  // removed_at_ > member_at_.
  uint64_t removed_at_ = 0;
  uint64_t member_at_ = 0;
  bool removal_logged_ = false;
  PeerWarnings peer_warnings_;
  std::chrono::steady_clock::time_point next_peer_check_;

  // Proposals handed over by other threads, taken by the loop in one batch
  // per pass, so a burst of client writes is one task on the loop's queue
  // (peer messages and ticks don't wait behind hundreds of them).
  absl::Mutex intake_mu_;
  std::vector<Intake> intake_ ABSL_GUARDED_BY(intake_mu_);
  bool intake_scheduled_ ABSL_GUARDED_BY(intake_mu_) = false;
  // Peer messages, likewise, bounded (Step returns false when full).
  std::vector<raft::Message> inbox_ ABSL_GUARDED_BY(intake_mu_);
  size_t inbox_bytes_ ABSL_GUARDED_BY(intake_mu_) = 0;
  bool inbox_scheduled_ ABSL_GUARDED_BY(intake_mu_) = false;
  std::vector<std::function<void()>> inbox_room_waiters_ ABSL_GUARDED_BY(intake_mu_);

  std::atomic<bool> is_leader_{false};
  std::atomic<bool> removed_flag_{false};
  mutable absl::Mutex status_mu_;
  NodeStatus status_ ABSL_GUARDED_BY(status_mu_);

  // Metrics.
  metrics::Histogram* fsync_seconds_;
  metrics::Histogram* persist_batch_entries_;
  metrics::Counter* proposals_total_;
  metrics::Counter* proposals_failed_;
  metrics::Gauge* term_gauge_;
  metrics::Gauge* commit_gauge_;
  metrics::Gauge* applied_gauge_;
  metrics::Gauge* leader_gauge_;
  metrics::Counter* snapshots_total_;
  metrics::Counter* compactions_total_;
  metrics::Counter* read_rounds_;
  metrics::Counter* inbox_full_;
  // concordance_write_stage_seconds{stage=...}: where a write's time goes
  // on the leader (see docs/benchmarks.md, "Where a write's time goes").
  metrics::Histogram* stage_intake_;     // Propose() called -> proposed to the core
  metrics::Histogram* stage_append_;     // proposed -> the leader's own append durable
  metrics::Histogram* stage_replicate_;  // proposed -> committed (a quorum has it durable)
  metrics::Histogram* stage_apply_;      // committed -> applied to state.db
  metrics::Histogram* stage_answer_;     // the answer callback (encode, hand to the connection)
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_NODE_DRIVER_H_
