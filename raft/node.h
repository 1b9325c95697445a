// raft::Node — the Raft consensus core as a pure, deterministic state
// machine (Ongaro & Ousterhout 2014; Ongaro's thesis 2014), shaped after
// etcd-io/raft's RawNode.
//
// It never touches sockets, threads, clocks, SQLite or the gateway. The
// driver feeds it ticks (Tick), peer messages (Step) and requests (Propose,
// ProposeConfChange, ReadIndex, TransferLeadership), and collects what to do
// from Ready(). Randomness (election timeouts) comes from a generator seeded
// by Config::seed, so a run is a function of its inputs.
//
// Features: randomized election timeouts; pre-vote (thesis §9.6); check-
// quorum, and leader stickiness (a node that heard from a live leader within
// the minimum election timeout ignores vote requests); a noop entry on
// election; log replication with the consistency check, fast backtracking
// from conflict hints, and pipelined appends with flow control; commitment by
// counting replicas only for entries of the current term (§5.4.2, Figure 8);
// snapshots streamed in chunks when a follower needs compacted entries;
// single-server membership changes with learners (§4.1, §4.2.1), one at a
// time, none before the leader has committed an entry of its term (Ongaro's
// 2015 fix), a configuration taking effect when its entry is applied, and
// automatic promotion of caught-up learners; leadership transfer (§3.10);
// linearizable reads through ReadIndex (§6.4).
//
// ---------------------------------------------------------------------------
// THE PERSISTENCE CONTRACT — how the driver must handle a Ready
// ---------------------------------------------------------------------------
// At most one Ready is outstanding: after Ready(), call Advance() before the
// next Ready(). Between the two the driver may keep calling Tick/Step/
// Propose/...; their effects appear in the next Ready. For each Ready:
//
//  1. `leader_messages` may be sent at once, before anything of this Ready is
//     durable. They are a leader's appends, heartbeats, snapshot chunks,
//     TimeoutNow and ReadIndex answers, handed out only once the leader's
//     term and vote are durable (a multi-voter candidate persisted them
//     before its vote requests went out; a sole voter that elects itself
//     has not, so until the Ready carrying its new term is advanced its
//     appends travel in `messages` instead), and a leader
//     counts its own log toward a commit only once Advance() has told it the
//     entries are durable — so a leader's disk write may overlap replication
//     (thesis §10.2.1) without acknowledging anything early.
//  2. Make durable, in one atomic write where possible: `snapshot` (if set:
//     LogStore::InstallSnapshot, then restore the state machine from its
//     data), `entries` (LogStore::Save truncates any stored suffix from the
//     first entry's index), `hard_state` (term, vote, commit) and
//     `conf_state`. `must_sync` says whether this needs an fsync before step
//     3; when false only the commit index changed, which may be written
//     lazily or not at all. (A Ready that applies a configuration entry
//     always carries the hard state with must_sync: the commit index that
//     covers the entry must be durable before it takes effect at step 5.)
//  3. Only then send `messages` (votes, vote requests, append answers...):
//     each may promise something about this node's durable state.
//  4. Apply `committed_entries` in order. They are all already durable in
//     this node's log, so step 4 may run concurrently with step 2.
//     Answer `read_states` once the state machine has applied their index.
//  5. Call Advance(). Only then does the core count this Ready's entries as
//     durable (a leader's own vote toward commitment) and its committed
//     entries as applied (configuration entries take effect here).
//
// A crash at any point loses only what the contract did not yet make
// durable; the core restarted on the same LogStore with Config::applied set
// to the state machine's applied index resumes safely.
//
// Threading: not thread-safe; one driver thread owns a Node.
#ifndef CONCORDANCE_RAFT_NODE_H_
#define CONCORDANCE_RAFT_NODE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/raft.pb.h"
#include "raft/log.h"
#include "raft/progress.h"
#include "storage/log_store.h"

namespace concordance::raft {

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };

// Terms and log indexes at or beyond this are refused as malformed in any
// message, and a node never moves its own term or log past it: no +1 on a
// term or index can wrap (2^62 elections or entries will not happen).
inline constexpr uint64_t kMaxTermOrIndex = uint64_t{1} << 62;
// True when every term and index in `m` is below kMaxTermOrIndex.
bool HasSaneNumbers(const Message& m);
const char* RoleName(Role role);

struct Config {
  std::string id;  // this node's id
  // Election timeout, randomized per election in [min, max] ticks.
  int election_ticks_min = 15;
  int election_ticks_max = 30;
  int heartbeat_ticks = 5;
  size_t max_entries_per_append = 100;
  uint64_t max_bytes_per_append = 1 << 20;
  int max_inflight_appends = 64;
  // The driver snapshots once this many entries have been applied since the
  // last snapshot (see SnapshotDue()).
  uint64_t snapshot_threshold = 10000;
  uint64_t snapshot_chunk_bytes = 512 * 1024;
  // An incoming snapshot announced larger than this is refused before any
  // of it is buffered.
  uint64_t max_snapshot_bytes = uint64_t{1} << 30;
  // Checks an incoming snapshot's data once it is whole and its checksum
  // matches, before anything changes: an image that fails is refused and
  // the log kept; the leader sends it again when its transfer idles (an
  // election timeout later). Null: no check.
  // Must be deterministic and side-effect free; runs on the driver thread.
  std::function<absl::Status(const SnapshotMeta&, const std::string&)> validate_snapshot;
  uint64_t max_committed_bytes_per_ready = 8 << 20;
  bool pre_vote = true;
  bool check_quorum = true;
  // The leader proposes PROMOTE for a learner whose log has reached the
  // leader's commit index.
  bool auto_promote_learners = true;
  uint64_t seed = 1;
  // The state machine's applied index at start (0 for a new node).
  uint64_t applied = 0;
};

// The answer to a ReadIndex request: once the state machine has applied
// `index`, a read reflects every write committed before the request began.
struct ReadState {
  uint64_t request_id = 0;
  uint64_t index = 0;
  bool ok = false;  // false: leadership could not be confirmed; retry
};

struct SoftState {
  Role role = Role::kFollower;
  std::string leader;  // "" when unknown
  bool operator==(const SoftState& o) const {
    return role == o.role && leader == o.leader;
  }
};

struct Ready {
  std::optional<SoftState> soft_state;  // set when role or leader changed
  std::optional<HardState> hard_state;  // set when it changed
  std::vector<LogEntry> entries;        // to persist
  std::optional<storage::Snapshot> snapshot;  // to install
  std::optional<ConfState> conf_state;  // new configuration to persist
  bool must_sync = false;
  std::vector<LogEntry> committed_entries;  // to apply
  std::vector<Message> leader_messages;     // send before persisting
  std::vector<Message> messages;            // send after persisting
  std::vector<ReadState> read_states;
};

// A summary of one member, for status pages.
struct MemberStatus {
  Member member;
  bool voter = false;
  uint64_t match = 0;  // known only on the leader
  bool recent_active = false;
};

class Node {
 public:
  // `store` must outlive the node; the driver writes it, the node reads it.
  // A node whose store holds no configuration (neither a CONFIG entry nor a
  // snapshot) waits to be contacted by a leader (a joining node).
  Node(Config config, const storage::LogStore* store);

  // Writes the first configuration into an empty store for a new cluster:
  // one CONFIG entry at index 1, term 1, committed. Call before constructing
  // the Node.
  static absl::Status Bootstrap(storage::LogStore* store,
                                const std::vector<Member>& voters);

  void Tick();
  // Handles a message addressed to this node. Messages from unknown terms or
  // senders are dealt with per the protocol; malformed ones are dropped.
  void Step(const Message& m);

  // Appends a COMMAND entry. Returns its (index, term), or FailedPrecondition
  // ("not the leader" / "leadership transfer in progress").
  absl::StatusOr<std::pair<uint64_t, uint64_t>> Propose(std::string data);
  // Proposes a single-server membership change. FailedPrecondition when not
  // the leader, when another change is pending, or when the leader has not
  // yet committed an entry of its term; InvalidArgument for a change that
  // makes no sense (adding a member twice, removing the last voter...).
  absl::StatusOr<std::pair<uint64_t, uint64_t>> ProposeConfChange(
      ConfChange::Type type, const Member& member);
  // Starts a linearizable read; its ReadState arrives in a later Ready.
  void ReadIndex(uint64_t request_id);
  // Starts an election now (without waiting for the timeout), if this node
  // may campaign. Used by a node that is its configuration's only voter.
  void CampaignNow();
  // Hands leadership to `target` (or the most caught-up voter when empty).
  absl::Status TransferLeadership(const std::string& target);

  bool HasReady() const;
  Ready GetReady();
  void Advance();
  // The leader messages produced so far, taken out ahead of the next Ready
  // (clause 1 of the contract allows sending them at once). Lets a driver
  // replicate new proposals while a previous Ready is still being persisted.
  // Empty while the current term is not yet durable.
  std::vector<Message> TakeLeaderMessages();

  // True when applied - snapshot index >= snapshot_threshold.
  bool SnapshotDue() const;
  // Metadata for a snapshot of the state machine at the applied index
  // (valid right after Advance()).
  SnapshotMeta SnapshotMetaAtApplied() const;

  // ---- Observers ----
  const std::string& id() const { return config_.id; }
  Role role() const { return role_; }
  uint64_t term() const { return term_; }
  const std::string& leader() const { return lead_; }
  const std::string& voted_for() const { return vote_; }
  uint64_t commit_index() const { return log_.committed(); }
  uint64_t applied_index() const { return log_.applied(); }
  uint64_t last_index() const { return log_.LastIndex(); }
  const ConfState& conf_state() const { return conf_; }
  // The index of the entry (or snapshot) that produced conf_state().
  uint64_t conf_index() const { return conf_index_; }
  bool IsVoter(const std::string& id) const;
  bool IsMember(const std::string& id) const;
  std::optional<Member> FindMember(const std::string& id) const;
  std::vector<MemberStatus> Members() const;
  const std::string& lead_transferee() const { return lead_transferee_; }
  // True once the leader has committed an entry of its own term.
  bool CommittedInCurrentTerm() const;
  const Log& log() const { return log_; }

 private:
  // Role changes.
  void BecomeFollower(uint64_t term, const std::string& lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();

  void TickElection();
  void TickHeartbeat();
  void Campaign(bool pre_vote, bool transfer);
  bool Promotable() const;
  bool PastElectionTimeout() const;

  // Message handling.
  void Send(Message m);
  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleInstallSnapshot(const Message& m);
  // The last chunk arrived: check the whole image and install it.
  void FinishIncomingSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m, Progress& pr);
  void HandleSnapshotResponse(const Message& m, Progress& pr);
  void HandleReadIndexRequest(const Message& m);
  void HandleReadIndexResponse(const Message& m);

  // Replication (leader).
  void BroadcastAppend();
  void BroadcastHeartbeat(uint64_t read_round);
  // Sends entries (or a snapshot chunk) to `to` unless paused; with
  // send_if_empty, an empty append carries the commit index.
  bool SendAppend(const std::string& to, bool send_if_empty);
  void SendSnapshotChunk(const std::string& to, Progress& pr);
  void SendHeartbeat(const std::string& to, uint64_t read_round);
  void SendTimeoutNow(const std::string& to);
  bool MaybeCommit();
  void AppendEntry(EntryType type, std::string data);
  void MaybePromoteLearners();
  void AbortTransfer();

  // ReadIndex (leader).
  void StartRead(uint64_t request_id, const std::string& from);
  void AnswerRead(uint64_t request_id, const std::string& from, uint64_t index,
                  bool ok);
  void ReleaseConfirmedReads();
  void FailPendingReads();

  // Membership.
  void ApplyConfEntry(const LogEntry& e);
  void SetConf(const ConfState& conf);
  size_t Quorum() const;
  int VotesFor(bool granted) const;

  Config config_;
  const storage::LogStore* store_;
  Log log_;
  std::mt19937_64 rng_;

  Role role_ = Role::kFollower;
  uint64_t term_ = 0;
  std::string vote_;
  std::string lead_;
  ConfState conf_;
  uint64_t conf_index_ = 0;  // index of the entry that produced conf_
  std::map<std::string, Progress> progress_;  // leader only; every member
  std::map<std::string, bool> votes_;         // candidate only

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::string lead_transferee_;
  uint64_t pending_conf_index_ = 0;

  // ReadIndex.
  struct PendingRead {
    uint64_t request_id;
    std::string from;  // "" = local
    uint64_t index;
    uint64_t round;
  };
  uint64_t read_round_ = 0;
  std::vector<PendingRead> pending_reads_;       // awaiting a quorum
  std::vector<PendingRead> reads_before_commit_;  // awaiting a term commit
  std::vector<uint64_t> remote_reads_;  // follower: ids asked of the leader

  // Incoming snapshot being assembled (follower).
  SnapshotMeta incoming_meta_;
  std::string incoming_data_;

  // Ready bookkeeping.
  std::vector<Message> msgs_;
  std::vector<Message> leader_msgs_;
  std::vector<ReadState> read_states_;
  HardState prev_hard_state_;
  // The term known durable: leader messages of a newer term wait for it.
  uint64_t durable_term_ = 0;
  uint64_t ready_term_ = 0;  // the term the outstanding Ready persists
  SoftState prev_soft_state_;
  std::optional<storage::Snapshot> pending_install_;
  bool conf_dirty_ = false;
  bool ready_outstanding_ = false;
  // What the outstanding Ready handed out.
  uint64_t ready_last_index_ = 0;
  uint64_t ready_last_term_ = 0;
  uint64_t ready_applied_to_ = 0;
  std::optional<uint64_t> ready_snapshot_index_;
  uint64_t applying_ = 0;  // committed entries handed out up to here
  std::vector<LogEntry> ready_conf_entries_;  // CONFIG entries handed out
  // New entries or a new commit index not yet sent to followers: one
  // append round goes out at the next TakeLeaderMessages()/GetReady(), so
  // many proposals or acknowledgements in a row cost one round.
  bool broadcast_pending_ = false;
  bool campaign_after_apply_ = false;  // TimeoutNow arrived too early

  std::vector<Message> DrainLeaderMessages();
};

}  // namespace concordance::raft

#endif  // CONCORDANCE_RAFT_NODE_H_
