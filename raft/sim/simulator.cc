#include "raft/sim/simulator.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"
#include "raft/node.h"
#include "raft/sim/invariants.h"
#include "raft/testing/sim_state_machine.h"
#include "storage/memory_log_store.h"

namespace concordance::raft::sim {
namespace {

constexpr int64_t kTickMs = 10;  // one Raft tick

// One simulated server and everything that survives its crash.
struct Server {
  std::string id;
  Config config;
  std::unique_ptr<storage::MemoryLogStore> store;  // raft.db: never loses data
  testing::SimStateMachine sm;                     // state.db as of now
  testing::SimStateMachine sm_synced;  // what a power cut would leave
  std::unique_ptr<Node> node;          // null while down
  uint64_t epoch = 0;                  // bumped on crash: stale events die
  bool retired = false;                // removed and shut down for good
  std::optional<Ready> in_flight;      // Ready being persisted
};

struct Event {
  enum Kind { kTick, kDeliver, kPersisted, kRestart, kClient, kFault, kWeatherEnd,
              kPartitionEnd, kCrash };
  int64_t time;
  uint64_t seq;
  Kind kind;
  std::string node;
  uint64_t epoch = 0;
  Message msg;
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

  Server& AddServer(const std::string& id);
  void Start(Server& s);
  void Crash(Server& s, bool power_loss);
  void Send(const std::string& from_role_tag, std::vector<Message> msgs);
  void Deliver(const Message& m);
  void Pump(Server& s);
  void Persisted(Server& s);
  void AfterInput(Server& s);
  bool CrashedAfterCommit(Server& s, uint64_t commit_before);
  void MaybeSnapshot(Server& s);
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
  absl::StatusOr<storage::Snapshot> snap = s.store->LoadSnapshot();
  CHECK(snap.ok());
  if (s.sm.applied_index() < snap->meta.index()) {
    CHECK(s.sm.Restore(*snap->data));
    s.sm_synced = s.sm;
  }
  Config c = s.config;
  c.applied = s.sm.applied_index();
  s.node = std::make_unique<Node>(c, s.store.get());
  // Ticks with a random phase.
  Schedule(now_ + 1 + Rand(kTickMs), Event{0, 0, Event::kTick, s.id, s.epoch});
}

void Simulation::Crash(Server& s, bool power_loss) {
  Trace(absl::StrCat("crash ", s.id, power_loss ? " (power loss)" : ""));
  s.node.reset();
  s.in_flight.reset();
  ++s.epoch;
  ++stats_.crashes;
  if (power_loss) {
    s.sm = s.sm_synced;
    ++stats_.power_losses;
  }
}

void Simulation::Send(const std::string&, std::vector<Message> msgs) {
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

bool Simulation::CrashedAfterCommit(Server& s, uint64_t commit_before) {
  if (s.node->role() != Role::kLeader || s.node->commit_index() <= commit_before ||
      healed_ || !Chance(0.03)) {
    return false;
  }
  // Failpoint: the leader dies right after its commit index moves, before
  // the news (or its next entries) reach anyone.
  Trace(absl::StrCat(s.id, " crashes right after committing ", s.node->commit_index()));
  Crash(s, Chance(0.5));
  Schedule(now_ + Between(50, 1500), Event{0, 0, Event::kRestart, s.id, s.epoch});
  return true;
}

void Simulation::AfterInput(Server& s) {
  // The driver sends a leader's appends at once (contract, clause 1).
  Send(s.id, s.node->TakeLeaderMessages());
  Pump(s);
}

void Simulation::Pump(Server& s) {
  if (!s.node || s.in_flight || !s.node->HasReady()) return;
  Ready rd = s.node->GetReady();
  Send(s.id, std::move(rd.leader_messages));
  rd.leader_messages.clear();
  s.in_flight = std::move(rd);
  // The fsync takes a while; meanwhile the node keeps running.
  Schedule(now_ + Rand(4), Event{0, 0, Event::kPersisted, s.id, s.epoch});
}

void Simulation::Persisted(Server& s) {
  Ready rd = std::move(*s.in_flight);
  s.in_flight.reset();
  // Step 2: durable.
  if (rd.snapshot) {
    CHECK(s.store->InstallSnapshot(*rd.snapshot).ok());
    CHECK(s.sm.Restore(*rd.snapshot->data));
    s.sm_synced = s.sm;
    ++stats_.snapshots_installed;
    checker_.OnRestore(s.id, rd.snapshot->meta.index(), s.sm.Hash());
    Trace(absl::StrCat(s.id, " installed snapshot at ", rd.snapshot->meta.index()));
  }
  if (rd.must_sync || rd.hard_state || rd.conf_state || !rd.entries.empty()) {
    absl::Status st = s.store->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                                    rd.conf_state ? &*rd.conf_state : nullptr);
    CHECK(st.ok()) << st;
    checker_.OnPersist(s.id, rd.entries);
  }
  // Step 3.
  bool granted_vote = false;
  for (const Message& m : rd.messages) {
    granted_vote |= m.has_request_vote_response() && m.request_vote_response().granted() &&
                    !m.request_vote_response().pre_vote();
  }
  Send(s.id, std::move(rd.messages));
  if (granted_vote && !healed_ && Chance(0.15)) {
    // Failpoint: crash right after a vote is durable and sent.
    Trace(absl::StrCat(s.id, " crashes right after voting"));
    Crash(s, Chance(0.5));
    Schedule(now_ + Between(10, 300), Event{0, 0, Event::kRestart, s.id, s.epoch});
    return;
  }
  // Step 4.
  for (const LogEntry& e : rd.committed_entries) {
    if (e.index() <= s.sm.applied_index()) continue;
    ConfChange cc;
    if (e.type() == CONFIG && cc.ParseFromString(e.data()) &&
        cc.type() == ConfChange::REMOVE) {
      to_retire_.insert(cc.member().node_id());
    }
    s.sm.Apply(e);
    checker_.OnApply(s.id, e, s.sm.Hash());
    if (probe_ && e.index() == probe_->first && e.term() == probe_->second) {
      Trace(absl::StrCat(s.id, " applied the liveness probe"));
    }
  }
  if (Chance(0.7)) s.sm_synced = s.sm;  // state.db's NORMAL sync lags
  for (const ReadState& r : rd.read_states) {
    checker_.OnReadState(s.id, r);
    if (r.ok) ++stats_.reads_ok;
  }
  // Step 5.
  uint64_t commit_before = s.node->commit_index();
  s.node->Advance();
  if (CrashedAfterCommit(s, commit_before)) return;
  MaybeSnapshot(s);
  AfterInput(s);
}

void Simulation::MaybeSnapshot(Server& s) {
  if (!s.node->SnapshotDue()) return;
  CHECK_EQ(s.sm.applied_index(), s.node->applied_index());
  storage::Snapshot snap;
  snap.meta = s.node->SnapshotMetaAtApplied();
  std::string data = s.sm.Serialize();
  snap.meta.set_size(data.size());
  snap.meta.set_checksum(storage::SnapshotChecksum(data));
  snap.data = std::make_shared<const std::string>(std::move(data));
  CHECK(s.store->SaveSnapshot(snap).ok());
  s.sm_synced = s.sm;  // the snapshot is taken from a synced state.db
}

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
        AfterInput(*s);
        Schedule(now_ + kTickMs, Event{0, 0, Event::kTick, s->id, s->epoch});
        break;
      case Event::kDeliver:
        Deliver(e.msg);
        break;
      case Event::kPersisted:
        if (s == nullptr || !s->node || s->epoch != e.epoch || !s->in_flight) break;
        Persisted(*s);
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
      ") snapshots_installed=", snapshots_installed);
}

SimResult RunSimulation(const SimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

}  // namespace concordance::raft::sim
