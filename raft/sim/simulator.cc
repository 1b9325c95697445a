#include "raft/sim/simulator.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"
#include "raft/node.h"
#include "raft/ready_pipeline.h"
#include "raft/sim/invariants.h"
#include "raft/testing/sim_state_machine.h"
#include "storage/memory_log_store.h"

namespace concordance::raft::sim {
namespace {

constexpr int64_t kTickMs = 10;  // one Raft tick

class Simulation;
class SimHost;

// One simulated server and everything that survives its crash.
struct Server {
  std::string id;
  Config config;
  std::unique_ptr<storage::MemoryLogStore> store;  // raft.db: never loses data
  testing::SimStateMachine sm;                     // state.db as of now
  testing::SimStateMachine sm_synced;  // what a power cut would leave
  // The running incarnation (null while down): the core, the shipped Ready
  // pipeline, and the host that carries out its steps as events.
  std::unique_ptr<Node> node;
  std::unique_ptr<SimHost> host;
  std::unique_ptr<ReadyPipeline> pipeline;
  uint64_t epoch = 0;                  // bumped on crash: stale events die
  bool retired = false;                // removed and shut down for good
  // Set when the node dies in the middle of an event (at a failpoint, right
  // after a vote or a commit): nothing it does after that point takes
  // effect, and the crash is carried out once the event ends.
  std::optional<bool> dying;           // the value: a power loss
  int64_t restart_after = 0;           // ms after a crash while dying
  uint64_t commit_seen = 0;            // for the crash-after-commit failpoint
};

struct Event {
  enum Kind { kTick, kDeliver, kTask, kRestart, kClient, kFault, kWeatherEnd,
              kPartitionEnd, kCrash };
  int64_t time;
  uint64_t seq;
  Kind kind;
  std::string node;
  uint64_t epoch = 0;
  Message msg;
  std::function<void()> task;  // kTask: a step of the node's pipeline
  bool operator>(const Event& o) const {
    return time != o.time ? time > o.time : seq > o.seq;
  }
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& o)
      : opts_(o),
        rng_(o.seed * 0x9E3779B97F4A7C15ULL + 1),
        checker_([this](const std::string& id) -> const storage::MemoryLogStore* {
          auto it = servers_.find(id);
          return it == servers_.end() ? nullptr : it->second.store.get();
        }) {}

  SimResult Run();

 private:
  // ---- randomness ----
  uint64_t Rand(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  int64_t Between(int64_t lo, int64_t hi) { return lo + Rand(hi - lo + 1); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void Schedule(int64_t at, Event e) {
    e.time = at;
    e.seq = ++seq_;
    events_.push(std::move(e));
  }
  void Trace(const std::string& s) {
    if (opts_.verbose) printf("[t=%lld] %s\n", static_cast<long long>(now_), s.c_str());
  }

  friend class SimHost;
  Server& AddServer(const std::string& id);
  void Start(Server& s);
  void Crash(Server& s, bool power_loss);
  // Marks `s` as dying in the middle of an event (see Server::dying).
  void Die(Server& s, const std::string& why, int64_t restart_lo, int64_t restart_hi);
  void Send(std::vector<Message> msgs);
  void Deliver(const Message& m);
  // Hands the node's new work to its pipeline.
  void AfterInput(Server& s);
  // The crash-after-commit failpoint's dice (a leader whose commit moved).
  bool CommitMovedAndCrash(Server& s, uint64_t commit_before);
  bool CrashedAfterCommit(Server& s, uint64_t commit_before);
  void ClientOp();
  void Fault();
  void ConfChangeOp(Server& leader);
  void HealAll();
  Server* Leader();
  std::vector<Server*> Live();
  std::vector<std::string> Members(const Node& n);
  bool LivenessReached();
  void CheckAll();

  SimOptions opts_;
  std::mt19937_64 rng_;
  InvariantChecker checker_;
  std::map<std::string, Server> servers_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t seq_ = 0;
  int64_t now_ = 0;
  SimStats stats_;
  bool healed_ = false;
  int next_node_ = 0;
  uint64_t next_value_ = 0;
  uint64_t next_read_ = 0;
  std::set<std::pair<uint64_t, std::string>> seen_leaders_;
  // Network state.
  std::set<std::pair<std::string, std::string>> blocked_;  // from -> to
  double drop_ = 0, dup_ = 0;
  int64_t max_delay_ = 5;
  // Liveness probe after healing.
  std::optional<std::pair<uint64_t, uint64_t>> probe_;  // (index, term)
  std::string probe_value_;
  std::set<std::string> to_retire_;
};

// Carries out the shipped pipeline's steps as simulated events: each
// executor (the loop, the persist thread, the snapshot thread) runs its
// tasks in order, after a random delay, interleaved with everything else
// the node does; a crash drops whatever has not run.
class SimHost : public PipelineHost {
 public:
  SimHost(Simulation* sim, Server* s) : sim_(sim), s_(s), epoch_(s->epoch) {}

  void PostToLoop(std::function<void()> task) override { Post(&loop_at_, 0, 2, std::move(task)); }
  // The fsync takes a while; meanwhile the node keeps running.
  void PostToPersist(std::function<void()> task) override {
    Post(&persist_at_, 0, 4, std::move(task));
  }
  void PostToSnapshot(std::function<void()> task) override {
    Post(&snapshot_at_, 1, 30, std::move(task));
  }

  void Send(std::vector<Message> messages) override {
    if (s_->dying) return;
    bool granted_vote = false;
    for (const Message& m : messages) {
      granted_vote |= m.has_request_vote_response() && m.request_vote_response().granted() &&
                      !m.request_vote_response().pre_vote();
    }
    sim_->Send(std::move(messages));
    if (granted_vote && !sim_->healed_ && sim_->Chance(0.15)) {
      // Failpoint: crash right after a vote is durable and sent.
      sim_->Die(*s_, "right after voting", 10, 300);
    }
  }

  void Apply(const std::vector<LogEntry>& entries) override {
    if (s_->dying) return;
    // The pipeline applies in the same step that commits (a leader's
    // Advance, then the next Ready): let the checker see the commit first.
    sim_->checker_.CheckNode(*s_->node);
    for (const LogEntry& e : entries) {
      if (e.index() <= s_->sm.applied_index()) continue;
      ConfChange cc;
      if (e.type() == CONFIG && cc.ParseFromString(e.data()) &&
          cc.type() == ConfChange::REMOVE) {
        sim_->to_retire_.insert(cc.member().node_id());
      }
      s_->sm.Apply(e);
      sim_->checker_.OnApply(s_->id, e, s_->sm.Hash());
    }
    if (sim_->Chance(0.7)) s_->sm_synced = s_->sm;  // state.db's NORMAL sync lags
  }

  void Restore(const storage::Snapshot& snapshot) override {
    if (s_->dying) return;
    CHECK(s_->sm.Restore(*snapshot.data));
    s_->sm_synced = s_->sm;
    ++sim_->stats_.snapshots_installed;
    sim_->checker_.OnRestore(s_->id, snapshot.meta.index(), s_->sm.Hash());
    sim_->Trace(absl::StrCat(s_->id, " installed snapshot at ", snapshot.meta.index()));
  }

  void OnReadStates(const std::vector<ReadState>& states) override {
    if (s_->dying) return;
    for (const ReadState& r : states) {
      sim_->checker_.OnReadState(s_->id, r);
      if (r.ok) ++sim_->stats_.reads_ok;
    }
  }

  void OnSoftState(const SoftState&) override {}

  std::function<void()> OnAdvanced(const Ready&) override {
    // Failpoint: the leader dies right after its commit index moves, before
    // the news (or its next entries) reach anyone.
    if (!s_->dying && sim_->CommitMovedAndCrash(*s_, s_->commit_seen)) {
      sim_->Die(*s_, absl::StrCat("right after committing ", s_->node->commit_index()), 50,
                1500);
    }
    return nullptr;
  }

  void OnDurable(const Ready& rd) override { sim_->checker_.OnPersist(s_->id, rd.entries); }

  void OnSnapshotRecorded(const SnapshotMeta& meta) override {
    if (storage::LogStore::HasImage(meta)) {
      ++sim_->stats_.images;
    } else {
      ++sim_->stats_.compactions;
    }
  }

  uint64_t StateApplied() const override { return s_->sm.applied_index(); }

  absl::Status SyncState() override {
    s_->sm_synced = s_->sm;
    return absl::OkStatus();
  }

  absl::StatusOr<Image> PinState(uint64_t index) override {
    if (s_->sm.applied_index() != index) {
      return absl::FailedPreconditionError("the applied index moved");
    }
    auto data = std::make_shared<std::string>(s_->sm.Serialize());
    return Image([data]() -> absl::StatusOr<std::string> { return *data; });
  }

  void Fatal(const std::string& what, const absl::Status& status) override {
    LOG(FATAL) << s_->id << ": " << what << ": " << status;
  }

  // The driver's named crash points: now and then the node dies there.
  bool Failpoint(const char* name) override {
    // Every Ready passes the first; the snapshot ones are rare.
    double p = std::string_view(name) == "raft-save-after-commit" ? 0.004 : 0.1;
    if (s_->dying || sim_->healed_ || !sim_->Chance(p)) return false;
    ++sim_->stats_.failpoint_crashes;
    sim_->Die(*s_, absl::StrCat("at failpoint ", name), 10, 1000);
    return true;
  }

 private:
  void Post(int64_t* at, int64_t lo, int64_t hi, std::function<void()> task) {
    if (s_->dying) return;
    *at = std::max(sim_->now_ + sim_->Between(lo, hi), *at);  // in order
    Event e{0, 0, Event::kTask, s_->id, epoch_};
    e.task = std::move(task);
    sim_->Schedule(*at, std::move(e));
  }

  Simulation* sim_;
  Server* s_;
  uint64_t epoch_;
  int64_t loop_at_ = 0, persist_at_ = 0, snapshot_at_ = 0;
};

Server& Simulation::AddServer(const std::string& id) {
  Server& s = servers_[id];
  s.id = id;
  s.store = std::make_unique<storage::MemoryLogStore>();
  Config& c = s.config;
  c.id = id;
  c.election_ticks_min = 15;
  c.election_ticks_max = 30;
  c.heartbeat_ticks = 5;
  // One entry per append is where Figure 8 lives: favour it.
  c.max_entries_per_append = Chance(0.3) ? 1 : 1 + Rand(20);
  c.max_inflight_appends = 1 + Rand(16);
  c.snapshot_threshold = 20 + Rand(60);
  c.snapshot_chunk_bytes = 16 + Rand(200);
  c.seed = rng_();
  return s;
}

void Simulation::Start(Server& s) {
  SnapshotMeta meta = s.store->snapshot_meta();
  if (s.sm.applied_index() < meta.index()) {
    // A state machine behind the snapshot (lost state.db) is rebuilt from
    // its image; behind a compaction point without one, committed state is
    // gone (compaction must follow a sync of the state machine).
    if (!storage::LogStore::HasImage(meta)) {
      checker_.Violation(absl::StrCat(
          "durability: ", s.id, " restarts with its state machine at ", s.sm.applied_index(),
          ", behind its log's compaction point ", meta.index(), " (no image): state lost"));
      return;
    }
    absl::StatusOr<storage::Snapshot> snap = s.store->LoadSnapshot();
    CHECK(snap.ok()) << snap.status();
    CHECK(s.sm.Restore(*snap->data));
    s.sm_synced = s.sm;
  }
  Config c = s.config;
  c.applied = s.sm.applied_index();
  s.node = std::make_unique<Node>(c, s.store.get());
  s.host = std::make_unique<SimHost>(this, &s);
  s.pipeline = std::make_unique<ReadyPipeline>(s.node.get(), s.store.get(), s.host.get());
  s.dying.reset();
  s.commit_seen = s.node->commit_index();
  // Ticks with a random phase.
  Schedule(now_ + 1 + Rand(kTickMs), Event{0, 0, Event::kTick, s.id, s.epoch});
}

void Simulation::Crash(Server& s, bool power_loss) {
  Trace(absl::StrCat("crash ", s.id, power_loss ? " (power loss)" : ""));
  s.pipeline.reset();
  s.host.reset();
  s.node.reset();
  s.dying.reset();
  ++s.epoch;
  ++stats_.crashes;
  if (power_loss) {
    s.sm = s.sm_synced;
    ++stats_.power_losses;
  }
}

void Simulation::Die(Server& s, const std::string& why, int64_t restart_lo, int64_t restart_hi) {
  if (s.dying) return;
  Trace(absl::StrCat(s.id, " crashes ", why));
  s.dying = Chance(0.5);
  s.restart_after = Between(restart_lo, restart_hi);
}

void Simulation::Send(std::vector<Message> msgs) {
  for (Message& m : msgs) {
    ++stats_.messages;
    if (blocked_.count({m.from(), m.to()}) || Chance(drop_)) {
      ++stats_.dropped;
      continue;
    }
    int copies = Chance(dup_) ? 2 : 1;
    if (copies == 2) ++stats_.duplicated;
    for (int i = 0; i < copies; ++i) {
      Event e{0, 0, Event::kDeliver, m.to(), 0, m};
      Schedule(now_ + Between(1, max_delay_), std::move(e));
    }
  }
}

void Simulation::Deliver(const Message& m) {
  auto it = servers_.find(m.to());
  if (it == servers_.end() || !it->second.node) return;
  uint64_t commit_before = it->second.node->commit_index();
  it->second.node->Step(m);
  if (CrashedAfterCommit(it->second, commit_before)) return;
  AfterInput(it->second);
}

bool Simulation::CommitMovedAndCrash(Server& s, uint64_t commit_before) {
  return s.node->role() == Role::kLeader && s.node->commit_index() > commit_before &&
         !healed_ && Chance(0.03);
}

bool Simulation::CrashedAfterCommit(Server& s, uint64_t commit_before) {
  if (!CommitMovedAndCrash(s, commit_before)) return false;
  // Failpoint: the leader dies right after its commit index moves, before
  // the news (or its next entries) reach anyone.
  Trace(absl::StrCat(s.id, " crashes right after committing ", s.node->commit_index()));
  Crash(s, Chance(0.5));
  Schedule(now_ + Between(50, 1500), Event{0, 0, Event::kRestart, s.id, s.epoch});
  return true;
}

void Simulation::AfterInput(Server& s) { s.pipeline->Process(); }

std::vector<Server*> Simulation::Live() {
  std::vector<Server*> out;
  for (auto& [id, s] : servers_) {
    if (s.node) out.push_back(&s);
  }
  return out;
}

Server* Simulation::Leader() {
  Server* best = nullptr;
  for (Server* s : Live()) {
    if (s->node->role() == Role::kLeader &&
        (best == nullptr || s->node->term() > best->node->term())) {
      best = s;
    }
  }
  return best;
}

std::vector<std::string> Simulation::Members(const Node& n) {
  std::vector<std::string> ids;
  for (const Member& m : n.conf_state().voters()) ids.push_back(m.node_id());
  for (const Member& m : n.conf_state().learners()) ids.push_back(m.node_id());
  return ids;
}

void Simulation::ConfChangeOp(Server& leader) {
  const ConfState& conf = leader.node->conf_state();
  int members = conf.voters_size() + conf.learners_size();
  if (members < opts_.nodes + 1 && Chance(0.5)) {
    std::string id = absl::StrCat("n", next_node_ + 1);
    Member m;
    m.set_node_id(id);
    m.set_address(id + ":4100");
    auto r = leader.node->ProposeConfChange(ConfChange::ADD_LEARNER, m);
    Trace(absl::StrCat(leader.id, " proposes ADD_LEARNER ", id, ": ",
                       r.ok() ? "ok" : r.status().ToString()));
    if (r.ok()) {
      ++next_node_;
      ++stats_.conf_changes;
      Start(AddServer(id));  // a fresh server with an empty data dir
    }
  } else if (conf.voters_size() >= opts_.nodes) {
    const Member& victim = conf.voters(Rand(conf.voters_size()));
    auto r = leader.node->ProposeConfChange(ConfChange::REMOVE, victim);
    Trace(absl::StrCat(leader.id, " proposes REMOVE ", victim.node_id(), ": ",
                       r.ok() ? "ok" : r.status().ToString()));
    if (r.ok()) ++stats_.conf_changes;
  }
}

void Simulation::ClientOp() {
  uint64_t dice = Rand(100);
  Server* leader = Leader();
  if (dice < 70) {
    if (leader == nullptr) return;
    std::string kv = absl::StrCat("k", Rand(8), "=v", ++next_value_);
    if (leader->node->Propose(kv).ok()) ++stats_.proposals;
    AfterInput(*leader);
  } else if (dice < 88) {
    std::vector<Server*> live = Live();
    if (live.empty()) return;
    Server* s = live[Rand(live.size())];
    uint64_t id = ++next_read_;
    checker_.OnReadStart(s->id, id);
    s->node->ReadIndex(id);
    ++stats_.reads;
    AfterInput(*s);
  } else if (dice < 93) {
    if (leader == nullptr || healed_) return;
    std::string target;
    if (Chance(0.5)) {
      std::vector<std::string> ids = Members(*leader->node);
      target = ids[Rand(ids.size())];
    }
    if (leader->node->TransferLeadership(target).ok()) {
      ++stats_.transfers;
      Trace(absl::StrCat(leader->id, " transfers leadership to '", target, "'"));
    }
    AfterInput(*leader);
  } else {
    if (leader == nullptr || healed_) return;
    ConfChangeOp(*leader);
    AfterInput(*leader);
  }
}

void Simulation::Fault() {
  std::vector<Server*> live = Live();
  uint64_t dice = Rand(100);
  if (dice < 30) {
    // Crash a node (the leader more often), restart it later.
    if (live.size() <= 1) return;
    Server* s = Chance(0.4) && Leader() ? Leader() : live[Rand(live.size())];
    Crash(*s, Chance(0.5));
    Schedule(now_ + Between(100, 3000), Event{0, 0, Event::kRestart, s->id, s->epoch});
  } else if (dice < 60) {
    // A partition: split the nodes in two, isolate the leader, or cut one
    // link one way.
    std::vector<std::string> ids;
    for (auto& [id, s] : servers_) ids.push_back(id);
    uint64_t shape = Rand(3);
    std::string desc;
    if (shape == 0) {
      std::set<std::string> side;
      for (const std::string& id : ids) {
        if (Chance(0.5)) side.insert(id);
      }
      for (const std::string& a : ids) {
        for (const std::string& b : ids) {
          if (side.count(a) != side.count(b)) blocked_.insert({a, b});
        }
      }
      desc = absl::StrCat("split {", absl::StrJoin(side, ","), "}");
    } else if (shape == 1) {
      Server* l = Leader();
      if (l == nullptr) return;
      for (const std::string& b : ids) {
        if (b != l->id) {
          blocked_.insert({l->id, b});
          blocked_.insert({b, l->id});
        }
      }
      desc = absl::StrCat("isolate leader ", l->id);
    } else {
      const std::string& a = ids[Rand(ids.size())];
      const std::string& b = ids[Rand(ids.size())];
      if (a == b) return;
      blocked_.insert({a, b});
      desc = absl::StrCat("cut ", a, " -> ", b, " (one way)");
    }
    ++stats_.partitions;
    Trace("partition: " + desc);
    Schedule(now_ + Between(200, 4000), Event{0, 0, Event::kPartitionEnd, "", 0});
  } else {
    // Network weather: loss, duplication and delay for a while.
    drop_ = Rand(25) / 100.0;
    dup_ = Rand(10) / 100.0;
    max_delay_ = Between(2, 60);
    Trace(absl::StrCat("weather: drop ", drop_, " dup ", dup_, " delay <= ", max_delay_));
    Schedule(now_ + Between(200, 3000), Event{0, 0, Event::kWeatherEnd, "", 0});
  }
}

void Simulation::HealAll() {
  healed_ = true;
  blocked_.clear();
  drop_ = dup_ = 0;
  max_delay_ = 5;
  for (auto& [id, s] : servers_) {
    if (!s.node && !s.retired) Start(s);
  }
  Trace("healed: network whole, every node up");
}

void Simulation::CheckAll() {
  for (Server* s : Live()) {
    s->commit_seen = s->node->commit_index();
    checker_.CheckNode(*s->node);
    if (s->node->role() == Role::kLeader &&
        seen_leaders_.insert({s->node->term(), s->id}).second) {
      ++stats_.leaders;
      Trace(absl::StrCat(s->id, " leads term ", s->node->term()));
      if (!healed_ && Chance(0.2)) {
        // Failpoint: a new leader dies within moments of its election,
        // typically with its first entries on a minority.
        Schedule(now_ + Rand(40), Event{0, 0, Event::kCrash, s->id, s->epoch});
      }
    }
  }
}

bool Simulation::LivenessReached() {
  Server* leader = Leader();
  if (leader == nullptr || !leader->node->CommittedInCurrentTerm()) return false;
  if (!probe_) {
    probe_value_ = absl::StrCat("v", ++next_value_);
    auto r = leader->node->Propose("probe=" + probe_value_);
    if (!r.ok()) return false;
    probe_ = *r;
    AfterInput(*leader);
    return false;
  }
  // Every member of the leader's configuration has applied the probe and
  // holds the same state.
  std::optional<uint64_t> hash;
  for (const std::string& id : Members(*leader->node)) {
    auto it = servers_.find(id);
    if (it == servers_.end() || !it->second.node) return false;
    const Server& s = it->second;
    auto p = s.sm.data().find("probe");
    if (p == s.sm.data().end() || p->second != probe_value_) {
      // The probe may have been lost with a leader change: propose again.
      if (leader->node->term() != probe_->second) probe_.reset();
      return false;
    }
    if (s.sm.applied_index() != leader->sm.applied_index()) return false;
    if (hash && *hash != s.sm.Hash()) return false;
    hash = s.sm.Hash();
  }
  return true;
}

SimResult Simulation::Run() {
  std::vector<Member> voters;
  for (int i = 0; i < opts_.nodes; ++i) {
    Member m;
    m.set_node_id(absl::StrCat("n", ++next_node_));
    m.set_address(m.node_id() + ":4100");
    voters.push_back(m);
  }
  for (const Member& m : voters) {
    Server& s = AddServer(m.node_id());
    CHECK(Node::Bootstrap(s.store.get(), voters).ok());
    Start(s);
  }
  std::vector<LogEntry> boot;
  CHECK(servers_.begin()->second.store->Entries(1, 2, UINT64_MAX, &boot).ok());
  checker_.OnBootstrap(boot);
  Schedule(Between(20, 60), Event{0, 0, Event::kClient, "", 0});
  Schedule(Between(300, 1500), Event{0, 0, Event::kFault, "", 0});

  const int64_t heal_at = opts_.fault_ms;
  const int64_t deadline = opts_.fault_ms + opts_.liveness_ms;
  bool live = false;
  while (!events_.empty() && checker_.violations().empty()) {
    Event e = events_.top();
    events_.pop();
    if (!healed_ && e.time >= heal_at) {
      now_ = heal_at;
      HealAll();
    }
    now_ = e.time;
    if (now_ > deadline) break;
    ++stats_.steps;
    auto it = servers_.find(e.node);
    Server* s = it == servers_.end() ? nullptr : &it->second;
    switch (e.kind) {
      case Event::kTick:
        if (s == nullptr || !s->node || s->epoch != e.epoch) break;
        s->node->Tick();
        s->pipeline->AfterTick();
        Schedule(now_ + kTickMs, Event{0, 0, Event::kTick, s->id, s->epoch});
        break;
      case Event::kDeliver:
        Deliver(e.msg);
        break;
      case Event::kTask:
        if (s == nullptr || !s->node || s->epoch != e.epoch) break;
        e.task();
        break;
      case Event::kRestart:
        if (s == nullptr || s->node || s->retired || s->epoch != e.epoch) break;
        Trace("restart " + s->id);
        ++stats_.restarts;
        Start(*s);
        break;
      case Event::kCrash:
        if (s == nullptr || !s->node || s->epoch != e.epoch || healed_) break;
        Crash(*s, Chance(0.5));
        Schedule(now_ + Between(50, 1500), Event{0, 0, Event::kRestart, s->id, s->epoch});
        break;
      case Event::kClient:
        ClientOp();
        Schedule(now_ + Between(5, 60), Event{0, 0, Event::kClient, "", 0});
        break;
      case Event::kFault:
        if (!healed_) {
          Fault();
          Schedule(now_ + Between(100, 1200), Event{0, 0, Event::kFault, "", 0});
        }
        break;
      case Event::kPartitionEnd:
        if (!healed_) {
          blocked_.clear();
          Trace("partition healed");
        }
        break;
      case Event::kWeatherEnd:
        if (!healed_) {
          drop_ = dup_ = 0;
          max_delay_ = 5;
        }
        break;
    }
    // A node that died in the middle of this event is gone now.
    for (auto& [id, srv] : servers_) {
      if (!srv.dying) continue;
      int64_t restart_after = srv.restart_after;
      Crash(srv, *srv.dying);
      Schedule(now_ + restart_after, Event{0, 0, Event::kRestart, srv.id, srv.epoch});
    }
    CheckAll();
    // Shut down nodes whose removal has been applied somewhere (so it is
    // committed for good), as an operator would.
    for (const std::string& id : to_retire_) {
      auto r = servers_.find(id);
      if (r == servers_.end() || r->second.retired) continue;
      Trace("retire " + id);
      if (r->second.node) Crash(r->second, false);
      r->second.retired = true;
    }
    to_retire_.clear();
    if (stats_.steps % 2000 == 0) {
      std::vector<std::string> ids;
      for (auto& [id, srv] : servers_) {
        if (!srv.retired) ids.push_back(id);
      }
      checker_.CheckLogMatching(ids);
    }
    if (healed_ && stats_.steps % 16 == 0 && LivenessReached()) {
      live = true;
      break;
    }
  }
  std::vector<std::string> ids;
  for (auto& [id, srv] : servers_) ids.push_back(id);
  checker_.CheckLogMatching(ids);
  SimResult result;
  result.violations = checker_.violations();
  if (result.violations.empty() && !live) {
    // What each server looked like when time ran out (with --verbose).
    for (auto& [id, srv] : servers_) {
      if (!srv.node) {
        Trace(absl::StrCat(id, " down", srv.retired ? " (retired)" : ""));
        continue;
      }
      Trace(absl::StrCat(id, " ", RoleName(srv.node->role()), " term ", srv.node->term(),
                         " commit ", srv.node->commit_index(), " applied ",
                         srv.sm.applied_index(), " last ", srv.node->last_index(),
                         srv.pipeline->ready_in_flight() ? " (a Ready in flight)" : "",
                         " conf ", srv.node->conf_state().ShortDebugString()));
    }
    Server* l = Leader();
    result.violations.push_back(absl::StrCat(
        "liveness: ", opts_.liveness_ms, " ms after healing, ",
        l ? absl::StrCat(l->id, " leads term ", l->node->term(), " but not every member has "
                         "applied a new proposal")
          : std::string("no leader")));
  }
  stats_.max_commit = checker_.max_committed();
  result.stats = stats_;
  return result;
}

}  // namespace

void SimStats::Add(const SimStats& o) {
  steps += o.steps;
  messages += o.messages;
  dropped += o.dropped;
  duplicated += o.duplicated;
  partitions += o.partitions;
  crashes += o.crashes;
  power_losses += o.power_losses;
  restarts += o.restarts;
  proposals += o.proposals;
  conf_changes += o.conf_changes;
  transfers += o.transfers;
  reads += o.reads;
  reads_ok += o.reads_ok;
  snapshots_installed += o.snapshots_installed;
  compactions += o.compactions;
  images += o.images;
  failpoint_crashes += o.failpoint_crashes;
  max_commit = std::max(max_commit, o.max_commit);
  leaders += o.leaders;
}

std::string SimStats::ToString() const {
  return absl::StrCat(
      "steps=", steps, " messages=", messages, " dropped=", dropped,
      " duplicated=", duplicated, " partitions=", partitions, " crashes=", crashes,
      " (power losses=", power_losses, ") restarts=", restarts, " leaders=", leaders,
      " proposals=", proposals, " conf_changes=", conf_changes,
      " transfers=", transfers, " reads=", reads, " (ok=", reads_ok,
      ") snapshots_installed=", snapshots_installed, " compactions=", compactions,
      " images=", images, " failpoint_crashes=", failpoint_crashes);
}

SimResult RunSimulation(const SimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

}  // namespace concordance::raft::sim
