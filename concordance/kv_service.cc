#include "concordance/kv_service.h"

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"

namespace concordance {

using gateway::Callback;

namespace {

// The events a command produced for its ops, skipping the expire events
// recorded for due entries it replaced.
std::vector<const kv::ChangeEvent*> OpEvents(const storage::CommandResult& r) {
  std::vector<const kv::ChangeEvent*> out;
  for (const kv::ChangeEvent& c : r.changes) {
    if (c.op() != "expire") out.push_back(&c);
  }
  return out;
}

absl::Status ValidateNsKey(const std::string& ns, const std::string& key,
                           const storage::Limits& limits) {
  absl::Status s = storage::ValidateNamespace(ns, limits);
  if (!s.ok()) return s;
  return storage::ValidateKey(key, limits);
}

const char* RoleString(const NodeStatus& s) {
  switch (s.role) {
    case raft::Role::kLeader:
      return "leader";
    case raft::Role::kCandidate:
    case raft::Role::kPreCandidate:
      return "candidate";
    case raft::Role::kFollower:
      return s.voter ? "follower" : "learner";
  }
  return "follower";
}

// Decrypts credentials in watch notifications on their way to a sink.
class RevealingSink : public gateway::ChangeSink {
 public:
  RevealingSink(std::shared_ptr<gateway::ChangeSink> inner,
                std::function<absl::Status(const std::string&, const std::string&, std::string*)>
                    reveal)
      : inner_(std::move(inner)), reveal_(std::move(reveal)) {}
  void OnChange(const std::string& id, std::shared_ptr<const kv::ChangeEvent> c) override {
    if (c->op() == "set" && storage::CredentialCipher::Applies(c->namespace_())) {
      auto copy = std::make_shared<kv::ChangeEvent>(*c);
      if (!reveal_(copy->namespace_(), copy->key(), copy->mutable_value()).ok()) {
        copy->set_value("null");  // this node cannot decrypt it: never garbage
      }
      c = std::move(copy);
    }
    inner_->OnChange(id, std::move(c));
  }
  void OnEnded(const std::string& id, absl::Status why) override { inner_->OnEnded(id, why); }

 private:
  std::shared_ptr<gateway::ChangeSink> inner_;
  std::function<absl::Status(const std::string&, const std::string&, std::string*)> reveal_;
};

}  // namespace

// State of one GET /changes?wait= long-poll.
struct LongPoll {
  gateway::ChangesRequest req;
  storage::ChangeFilter filter;
  Callback<gateway::ChangesResult> done;
  std::atomic<bool> answered{false};
  std::atomic<bool> waiting{false};
  // The first query runs on the caller's thread, the timer on the Raft
  // loop, wake-ups on the applying thread: these two are shared by them.
  absl::Mutex mu;
  bool expired ABSL_GUARDED_BY(mu) = false;  // wait over: answer what there is
  uint64_t wait_handle ABSL_GUARDED_BY(mu) = 0;
};

KvService::KvService(Options options, storage::KvStore* store, NodeDriver* driver, Hub* hub,
                     const Clock* clock, metrics::Registry* metrics)
    : options_(options), store_(store), driver_(driver), hub_(hub), clock_(clock),
      metrics_(metrics) {
  long_polls_waiting_ = metrics->GetGauge("concordance_changes_long_polls_waiting",
                                          "GET /changes?wait= requests waiting for a change.");
}

void KvService::AfterReadBarrier(const gateway::ReadOptions& opts, std::function<void()> read,
                                 std::function<void(absl::Status)> fail) {
  auto then = [read = std::move(read), fail = std::move(fail)](absl::Status s) {
    if (s.ok()) {
      read();
    } else {
      fail(s);
    }
  };
  if (opts.linearizable) {
    driver_->ReadIndex(std::move(then));
  } else if (opts.min_seq) {
    driver_->WaitForSeq(*opts.min_seq, options_.min_seq_timeout_ms, std::move(then));
  } else {
    then(absl::OkStatus());
  }
}

absl::StatusOr<std::string> KvService::Seal(const std::string& ns, const std::string& key,
                                             const std::string& value_json) const {
  if (!storage::CredentialCipher::Applies(ns)) return value_json;
  if (options_.cipher == nullptr) {
    return absl::FailedPreconditionError(
        "values in credentials namespaces are encrypted at rest, and this node has no key: "
        "start it with --encryption-key-file");
  }
  return options_.cipher->Seal(ns, key, value_json);
}

absl::Status KvService::Reveal(const std::string& ns, const std::string& key,
                               std::string* value) const {
  if (!storage::CredentialCipher::Applies(ns) || !storage::CredentialCipher::IsEnvelope(*value)) {
    return absl::OkStatus();
  }
  if (options_.cipher == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the value of ", key, " is encrypted and this node has no --encryption-key-file"));
  }
  absl::StatusOr<std::string> plain = options_.cipher->Open(ns, key, *value);
  if (!plain.ok()) return plain.status();
  *value = std::move(*plain);
  return absl::OkStatus();
}

void KvService::Get(const gateway::GetRequest& req, Callback<kv::KvEntry> done) {
  absl::Status s = ValidateNsKey(req.ns, req.key, options_.limits);
  if (!s.ok()) return done(s);
  AfterReadBarrier(
      req.read,
      [this, req, done] {
        absl::StatusOr<kv::KvEntry> e = store_->Get(req.ns, req.key, clock_->NowMs());
        if (e.ok()) {
          absl::Status r = Reveal(e->namespace_(), e->key(), e->mutable_value());
          if (!r.ok()) return done(r);
        }
        done(std::move(e));
      },
      [done](absl::Status s) { done(s); });
}

void KvService::List(const gateway::ListRequest& req, Callback<gateway::ListResult> done) {
  absl::Status s = storage::ValidateNamespace(req.ns, options_.limits);
  if (!s.ok()) return done(s);
  AfterReadBarrier(
      req.read,
      [this, req, done] {
        absl::StatusOr<storage::ListResult> r =
            store_->List(req.ns, req.prefix, req.after, req.limit, clock_->NowMs());
        if (!r.ok()) return done(r.status());
        for (kv::KvEntry& e : r->entries) {
          absl::Status rs = Reveal(e.namespace_(), e.key(), e.mutable_value());
          if (!rs.ok()) return done(rs);
        }
        done(gateway::ListResult{std::move(r->entries), std::move(r->next)});
      },
      [done](absl::Status s) { done(s); });
}

absl::Status KvService::ValidateSet(const gateway::SetRequest& req, int64_t now,
                                    int64_t* expires_at) const {
  absl::Status s = ValidateNsKey(req.ns, req.key, options_.limits);
  if (!s.ok()) return s;
  s = storage::ValidateValueSize(req.value_json, options_.limits);
  if (!s.ok()) return s;
  *expires_at = 0;
  if (req.ttl_ms) *expires_at = now + *req.ttl_ms;
  if (req.expires_at) {
    if (*req.expires_at <= now) {
      return absl::InvalidArgumentError(
          absl::StrCat("expiresAt ", *req.expires_at, " is not in the future (now is ", now, ")"));
    }
    *expires_at = *req.expires_at;
  }
  return absl::OkStatus();
}

void KvService::Set(const gateway::SetRequest& req, const std::string& actor,
                    Callback<gateway::SetResult> done) {
  int64_t now = clock_->NowMs();
  int64_t expires_at;
  absl::Status s = ValidateSet(req, now, &expires_at);
  if (!s.ok()) return done(s);
  absl::StatusOr<std::string> stored = Seal(req.ns, req.key, req.value_json);
  if (!stored.ok()) return done(stored.status());
  kv::Command cmd;
  cmd.set_timestamp_ms(now);
  cmd.set_actor(actor);
  kv::SetOp* op = cmd.mutable_set();
  op->set_namespace_(req.ns);
  op->set_key(req.key);
  op->set_value(std::move(*stored));
  if (req.expected_version) op->set_expected_version(*req.expected_version);
  op->set_expires_at(expires_at);
  driver_->Propose(cmd.SerializeAsString(), [done, now, expires_at](
                                                absl::StatusOr<storage::CommandResult> r) {
    if (!r.ok()) return done(r.status());
    if (!r->status.ok()) return done(r->status);
    std::vector<const kv::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != 1) return done(absl::InternalError("set produced no change"));
    done(gateway::SetResult{ev[0]->version(), ev[0]->seq(), now, expires_at});
  });
}

void KvService::Delete(const gateway::DeleteRequest& req, const std::string& actor,
                       Callback<gateway::DeleteResult> done) {
  absl::Status s = ValidateNsKey(req.ns, req.key, options_.limits);
  if (!s.ok()) return done(s);
  if (req.expected_version && *req.expected_version < 0) {
    return done(absl::InvalidArgumentError("expectedVersion must be >= 0"));
  }
  kv::Command cmd;
  cmd.set_timestamp_ms(clock_->NowMs());
  cmd.set_actor(actor);
  kv::DeleteOp* op = cmd.mutable_delete_();
  op->set_namespace_(req.ns);
  op->set_key(req.key);
  if (req.expected_version) op->set_expected_version(*req.expected_version);
  driver_->Propose(cmd.SerializeAsString(), [done](absl::StatusOr<storage::CommandResult> r) {
    if (!r.ok()) return done(r.status());
    if (!r->status.ok()) return done(r->status);
    std::vector<const kv::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != 1) return done(absl::InternalError("delete produced no change"));
    done(gateway::DeleteResult{ev[0]->seq()});
  });
}

void KvService::Batch(const std::vector<gateway::BatchOp>& ops, const std::string& actor,
                      Callback<gateway::BatchResult> done) {
  absl::Status s = storage::ValidateBatchSize(ops.size(), options_.limits);
  if (!s.ok()) return done(s);
  int64_t now = clock_->NowMs();
  kv::Command cmd;
  cmd.set_timestamp_ms(now);
  cmd.set_actor(actor);
  std::vector<int64_t> expiries;
  for (size_t i = 0; i < ops.size(); ++i) {
    const gateway::BatchOp& op = ops[i];
    kv::BatchOp* out = cmd.mutable_batch()->add_ops();
    int64_t expires_at = 0;
    absl::Status v = op.is_set ? ValidateSet(op.set, now, &expires_at)
                               : ValidateNsKey(op.set.ns, op.set.key, options_.limits);
    if (!v.ok()) {
      absl::Status withIndex(v.code(), absl::StrCat("ops[", i, "]: ", v.message()));
      SetIntPayload(withIndex, kOpIndexPayload, i);
      return done(withIndex);
    }
    expiries.push_back(expires_at);
    if (op.is_set) {
      absl::StatusOr<std::string> stored = Seal(op.set.ns, op.set.key, op.set.value_json);
      if (!stored.ok()) {
        absl::Status withIndex(stored.status().code(),
                               absl::StrCat("ops[", i, "]: ", stored.status().message()));
        SetIntPayload(withIndex, kOpIndexPayload, i);
        return done(withIndex);
      }
      kv::SetOp* set = out->mutable_set();
      set->set_namespace_(op.set.ns);
      set->set_key(op.set.key);
      set->set_value(std::move(*stored));
      if (op.set.expected_version) set->set_expected_version(*op.set.expected_version);
      set->set_expires_at(expires_at);
    } else {
      kv::DeleteOp* del = out->mutable_delete_();
      del->set_namespace_(op.set.ns);
      del->set_key(op.set.key);
      if (op.set.expected_version) del->set_expected_version(*op.set.expected_version);
    }
  }
  // The whole command must fit the request body limit too.
  if (cmd.ByteSizeLong() > options_.limits.max_body_bytes) {
    return done(absl::ResourceExhaustedError("batch is larger than the request body limit"));
  }
  std::vector<bool> is_set;
  for (const auto& op : ops) is_set.push_back(op.is_set);
  driver_->Propose(cmd.SerializeAsString(), [done, now, expiries, is_set](
                                                absl::StatusOr<storage::CommandResult> r) {
    if (!r.ok()) return done(r.status());
    if (!r->status.ok()) return done(r->status);
    std::vector<const kv::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != is_set.size()) return done(absl::InternalError("batch result mismatch"));
    gateway::BatchResult out;
    for (size_t i = 0; i < ev.size(); ++i) {
      out.ops.push_back({is_set[i], gateway::SetResult{is_set[i] ? ev[i]->version() : 0,
                                                       ev[i]->seq(), now, expiries[i]}});
    }
    done(std::move(out));
  });
}

void KvService::Changes(const gateway::ChangesRequest& req,
                        Callback<gateway::ChangesResult> done) {
  auto poll = std::make_shared<LongPoll>();
  poll->req = req;
  if (!req.ns.empty()) {
    absl::Status s = storage::ValidateNamespace(req.ns, options_.limits);
    if (!s.ok()) return done(s);
    poll->filter.tenant_id = *storage::ExtractTenantId(req.ns);
    poll->filter.namespace_ = req.ns;
  } else {
    absl::Status s = storage::ValidateTenantId(req.tenant);
    if (!s.ok()) return done(s);
    poll->filter.tenant_id = req.tenant;
  }
  poll->done = std::move(done);
  if (req.wait_ms > 0) {
    driver_->RunAfter(static_cast<int>(req.wait_ms), [this, poll] {
      if (poll->answered.load()) return;
      uint64_t handle;
      {
        absl::MutexLock l(&poll->mu);
        poll->expired = true;
        handle = std::exchange(poll->wait_handle, 0);
      }
      if (handle != 0) hub_->CancelWait(handle);
      QueryChanges(poll);  // answers whatever is there
    });
  } else {
    absl::MutexLock l(&poll->mu);
    poll->expired = true;
  }
  QueryChanges(poll);
}

void KvService::QueryChanges(std::shared_ptr<LongPoll> poll) {
  absl::StatusOr<storage::ChangesResult> r;
  while (true) {
    if (poll->answered.load()) return;
    r = store_->ChangesSince(poll->req.since, poll->filter, poll->req.limit);
    if (!r.ok() || !r->changes.empty()) break;
    // Nothing new: wait for a change unless the wait is over. Registering
    // under poll->mu means the timer either sees this handle and cancels
    // it, or has already expired the poll and nothing is registered.
    absl::MutexLock l(&poll->mu);
    if (poll->expired) break;
    std::optional<uint64_t> handle =
        hub_->WaitForChange(poll->filter.tenant_id, poll->filter.namespace_, r->last_seq,
                            [this, poll] { QueryChanges(poll); });
    if (!handle) continue;  // a change was published meanwhile: look again
    poll->wait_handle = *handle;
    if (!poll->waiting.exchange(true)) long_polls_waiting_->Add(1);
    return;
  }
  if (poll->answered.exchange(true)) return;
  if (poll->waiting.exchange(false)) long_polls_waiting_->Add(-1);
  if (!r.ok()) return poll->done(r.status());
  for (kv::ChangeEvent& c : r->changes) {
    if (c.op() != "set") continue;
    absl::Status rs = Reveal(c.namespace_(), c.key(), c.mutable_value());
    if (!rs.ok()) return poll->done(rs);
  }
  poll->done(gateway::ChangesResult{std::move(r->changes), r->next_seq, r->oldest_seq});
}

void KvService::Subscribe(const gateway::SubscribeRequest& req,
                          std::shared_ptr<gateway::ChangeSink> sink,
                          Callback<gateway::SubscribeResult> done) {
  absl::Status s = req.ns.empty() ? storage::ValidateTenantId(req.tenant)
                                  : storage::ValidateNamespace(req.ns, options_.limits);
  if (!s.ok()) return done(s);
  auto revealing = std::make_shared<RevealingSink>(
      std::move(sink), [this](const std::string& ns, const std::string& key, std::string* v) {
        return Reveal(ns, key, v);
      });
  absl::StatusOr<gateway::SubscribeResult> r = hub_->Subscribe(req, std::move(revealing));
  std::string id = r.ok() ? r->subscription_id : "";
  done(std::move(r));  // the result first, then the replayed changes
  if (!id.empty() && req.from_seq) hub_->Replay(id);
}

void KvService::Unsubscribe(const std::string& id) { hub_->Unsubscribe(id); }

gateway::ClusterStatus KvService::Status(bool with_state_hash) {
  NodeStatus n = driver_->Status();
  gateway::ClusterStatus s;
  s.node_id = n.node_id;
  s.role = RoleString(n);
  s.leader_id = n.leader_id;
  s.leader_address = n.leader_address;
  s.term = n.term;
  s.commit_index = n.commit_index;
  s.applied_index = n.applied_index;
  if (with_state_hash) {
    uint64_t applied = 0;
    absl::StatusOr<std::string> hash = store_->ContentHash(&applied);
    if (hash.ok()) {
      s.applied_index = applied;  // the index the hash is of
      s.state_hash = *hash;
    }
  }
  for (const raft::MemberStatus& m : n.members) {
    gateway::PeerInfo p;
    p.node_id = m.member.node_id();
    p.address = m.member.address();
    p.voter = m.voter;
    bool self = p.node_id == n.node_id;
    p.match_index = self ? n.last_index : m.match;
    p.reachable = self || m.recent_active ||
                  (transport_ != nullptr && transport_->Reachable(p.node_id));
    s.peers.push_back(std::move(p));
  }
  return s;
}

bool KvService::Ready(std::string* why) {
  NodeStatus n = driver_->Status();
  if (n.leader_id.empty()) {
    *why = "no leader is known";
    return false;
  }
  if (n.role == raft::Role::kLeader && !n.leader_committed_in_term) {
    *why = "the new leader has not committed an entry of its term yet";
    return false;
  }
  if (n.applied_index < n.commit_index) {
    *why = absl::StrCat("applied ", n.applied_index, " of ", n.commit_index, " committed entries");
    return false;
  }
  return true;
}

void KvService::Join(const std::string& node_id, const std::string& address,
                     Callback<gateway::ClusterStatus> done) {
  if (node_id.empty() || !storage::IsValidUtf8(node_id) || node_id.size() > 128) {
    return done(absl::InvalidArgumentError("nodeId must be 1-128 bytes of UTF-8"));
  }
  if (address.find(':') == std::string::npos) {
    return done(absl::InvalidArgumentError("address must be host:port"));
  }
  NodeStatus n = driver_->Status();
  for (const raft::MemberStatus& m : n.members) {
    if (m.member.node_id() != node_id) continue;
    if (m.member.address() == address) return done(Status(false));  // already in: idempotent
    return done(absl::AlreadyExistsError(absl::StrCat(
        node_id, " is already a member at ", m.member.address(),
        "; remove it first to change its address")));
  }
  raft::Member member;
  member.set_node_id(node_id);
  member.set_address(address);
  driver_->ProposeConfChange(raft::ConfChange::ADD_LEARNER, member, StatusReply(std::move(done)));
}

std::function<void(absl::Status)> KvService::StatusReply(
    Callback<gateway::ClusterStatus> done) {
  return [this, done = std::move(done)](absl::Status s) {
    if (!s.ok()) return done(s);
    done(Status(false));
  };
}

void KvService::Remove(const std::string& node_id, Callback<gateway::ClusterStatus> done) {
  raft::Member member;
  member.set_node_id(node_id);
  driver_->ProposeConfChange(raft::ConfChange::REMOVE, member, StatusReply(std::move(done)));
}

void KvService::TransferLeadership(const std::string& node_id,
                                   Callback<gateway::ClusterStatus> done) {
  driver_->TransferLeadership(node_id, StatusReply(std::move(done)));
}

void KvService::Snapshot(Callback<std::string> done) {
  // Serialized on the Raft loop: a consistent image at the applied index.
  driver_->Post([this, done] { done(store_->Serialize()); });
}

bool KvService::PeerConnected(uint64_t link, const std::string& node_id,
                              const std::string& address) {
  return peers_ != nullptr && peers_->Connected(link, node_id, address);
}

void KvService::PeerText(uint64_t link, const std::string& node_id, std::string json) {
  if (peers_ != nullptr) peers_->Text(link, node_id, std::move(json));
}

void KvService::PeerBinary(uint64_t link, const std::string& node_id, std::string bytes) {
  if (peers_ != nullptr) peers_->Binary(link, node_id, std::move(bytes));
}

void KvService::PeerDisconnected(uint64_t link, const std::string& node_id) {
  if (peers_ != nullptr) peers_->Disconnected(link, node_id);
}

}  // namespace concordance
