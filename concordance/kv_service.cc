#include "concordance/kv_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace concordance {

using gateway::Callback;

namespace {

// The events a command produced for its ops, skipping the expire events
// recorded for due entries it replaced.
std::vector<const v1::ChangeEvent*> OpEvents(const storage::CommandResult& r) {
  std::vector<const v1::ChangeEvent*> out;
  for (const v1::ChangeEvent& c : r.changes) {
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

absl::Status WithOpIndex(const absl::Status& s, size_t i) {
  absl::Status out(s.code(), absl::StrCat("ops[", i, "]: ", s.message()));
  SetIntPayload(out, kOpIndexPayload, i);
  return out;
}

// Opens credentials in watch notifications on their way to a sink (on the
// hub's watch thread); passes flow control through.
class OpeningSink : public gateway::ChangeSink {
 public:
  OpeningSink(std::shared_ptr<gateway::ChangeSink> inner, const CredentialView* credentials)
      : inner_(std::move(inner)), credentials_(credentials) {}
  void OnChange(const std::string& id, std::shared_ptr<const v1::ChangeEvent> c) override {
    if (c->op() == "set" && storage::CredentialCipher::Applies(c->namespace_())) {
      auto copy = std::make_shared<v1::ChangeEvent>(*c);
      credentials_->Open(copy.get());
      c = std::move(copy);
    }
    inner_->OnChange(id, std::move(c));
  }
  void OnEnded(const std::string& id, absl::Status why) override { inner_->OnEnded(id, why); }
  bool HasRoom() const override { return inner_->HasRoom(); }
  void OnRoom(std::function<void()> fn) override { inner_->OnRoom(std::move(fn)); }

 private:
  std::shared_ptr<gateway::ChangeSink> inner_;
  const CredentialView* credentials_;
};

}  // namespace

KvService::KvService(Options options, storage::KvStore* store, NodeDriver* driver, Hub* hub,
                     Worker* maintenance, const Clock* clock, metrics::Registry* metrics)
    : options_(options),
      store_(store),
      driver_(driver),
      hub_(hub),
      maintenance_(maintenance),
      clock_(clock),
      metrics_(metrics),
      credentials_(options.cipher),
      poller_(store, hub, &credentials_, metrics),
      hasher_(store, maintenance, metrics) {}

absl::Status KvService::CheckMember() const {
  if (!driver_->Removed()) return absl::OkStatus();
  return absl::UnavailableError(
      "this node was removed from the cluster: it serves no reads or writes; use another "
      "member, or restart this node with --join to add it back");
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

void KvService::Get(const gateway::GetRequest& req, Callback<v1::Entry> done) {
  absl::Status s = ValidateNsKey(req.ns, req.key, options_.limits);
  if (s.ok()) s = CheckMember();
  if (!s.ok()) return done(s);
  AfterReadBarrier(
      req.read,
      [this, req, done] {
        absl::StatusOr<v1::Entry> e = store_->Get(req.ns, req.key, clock_->NowMs());
        if (e.ok()) {
          absl::Status r = credentials_.Open(e->namespace_(), e->key(), e->mutable_value());
          if (!r.ok()) return done(r);
        }
        done(std::move(e));
      },
      [done](absl::Status s) { done(s); });
}

void KvService::List(const gateway::ListRequest& req, Callback<gateway::ListResult> done) {
  absl::Status s = storage::ValidateNamespace(req.ns, options_.limits);
  if (s.ok()) s = CheckMember();
  if (!s.ok()) return done(s);
  AfterReadBarrier(
      req.read,
      [this, req, done] {
        absl::StatusOr<storage::ListResult> r = store_->List(
            req.ns, req.prefix, req.after, req.limit, clock_->NowMs(), options_.max_page_bytes);
        if (!r.ok()) return done(r.status());
        for (v1::Entry& e : r->entries) credentials_.Open(&e);
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
  // Decoders check this too; a command that reaches the log must apply.
  if (!storage::IsValidUtf8(req.value_json)) {
    return absl::InvalidArgumentError("the value is not valid UTF-8");
  }
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
  if (s.ok()) s = CheckMember();
  if (!s.ok()) return done(s);
  absl::StatusOr<std::string> stored = credentials_.Seal(req.ns, req.key, req.value_json);
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
    std::vector<const v1::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != 1) return done(absl::InternalError("set produced no change"));
    done(gateway::SetResult{ev[0]->version(), ev[0]->seq(), now, expires_at});
  });
}

void KvService::Delete(const gateway::DeleteRequest& req, const std::string& actor,
                       Callback<gateway::DeleteResult> done) {
  absl::Status s = ValidateNsKey(req.ns, req.key, options_.limits);
  if (s.ok() && req.expected_version && *req.expected_version < 0) {
    s = absl::InvalidArgumentError("expectedVersion must be >= 0");
  }
  if (s.ok()) s = CheckMember();
  if (!s.ok()) return done(s);
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
    std::vector<const v1::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != 1) return done(absl::InternalError("delete produced no change"));
    done(gateway::DeleteResult{ev[0]->seq()});
  });
}

absl::Status KvService::BuildBatch(const std::vector<gateway::BatchOp>& ops, int64_t now,
                                   kv::Command* cmd, std::vector<int64_t>* expiries) const {
  for (size_t i = 0; i < ops.size(); ++i) {
    const gateway::BatchOp& op = ops[i];
    kv::BatchOp* out = cmd->mutable_batch()->add_ops();
    int64_t expires_at = 0;
    absl::Status v = op.is_set ? ValidateSet(op.set, now, &expires_at)
                               : ValidateNsKey(op.set.ns, op.set.key, options_.limits);
    if (!v.ok()) return WithOpIndex(v, i);
    expiries->push_back(expires_at);
    if (op.is_set) {
      absl::StatusOr<std::string> stored = credentials_.Seal(op.set.ns, op.set.key, op.set.value_json);
      if (!stored.ok()) return WithOpIndex(stored.status(), i);
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
  if (cmd->ByteSizeLong() > options_.limits.max_body_bytes) {
    return absl::ResourceExhaustedError("batch is larger than the request body limit");
  }
  return absl::OkStatus();
}

void KvService::Batch(const std::vector<gateway::BatchOp>& ops, const std::string& actor,
                      Callback<gateway::BatchResult> done) {
  absl::Status s = storage::ValidateBatchSize(ops.size(), options_.limits);
  int64_t now = clock_->NowMs();
  kv::Command cmd;
  cmd.set_timestamp_ms(now);
  cmd.set_actor(actor);
  std::vector<int64_t> expiries;
  if (s.ok()) s = BuildBatch(ops, now, &cmd, &expiries);
  if (s.ok()) s = CheckMember();
  if (!s.ok()) return done(s);
  std::vector<bool> is_set;
  for (const auto& op : ops) is_set.push_back(op.is_set);
  driver_->Propose(cmd.SerializeAsString(), [done, now, expiries, is_set](
                                                absl::StatusOr<storage::CommandResult> r) {
    if (!r.ok()) return done(r.status());
    if (!r->status.ok()) return done(r->status);
    std::vector<const v1::ChangeEvent*> ev = OpEvents(*r);
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
  storage::ChangeFilter filter;
  absl::Status s;
  if (!req.ns.empty()) {
    s = storage::ValidateNamespace(req.ns, options_.limits);
    if (s.ok()) {
      filter.tenant_id = *storage::ExtractTenantId(req.ns);
      filter.namespace_ = req.ns;
    }
  } else {
    s = storage::ValidateTenantId(req.tenant);
    filter.tenant_id = req.tenant;
  }
  if (s.ok()) s = CheckMember();
  if (!s.ok()) return done(s);
  poller_.Poll(req, std::move(filter), options_.max_page_bytes, std::move(done));
}

void KvService::Subscribe(const gateway::SubscribeRequest& req,
                          std::shared_ptr<gateway::ChangeSink> sink,
                          Callback<gateway::SubscribeResult> done) {
  absl::Status s = req.ns.empty() ? storage::ValidateTenantId(req.tenant)
                                  : storage::ValidateNamespace(req.ns, options_.limits);
  if (s.ok()) s = CheckMember();
  if (!s.ok()) return done(s);
  absl::StatusOr<gateway::SubscribeResult> r =
      hub_->Subscribe(req, std::make_shared<OpeningSink>(std::move(sink), &credentials_));
  std::string id = r.ok() ? r->subscription_id : "";
  done(std::move(r));  // the result first, then the replayed and live changes
  if (!id.empty()) hub_->Start(id);
}

void KvService::Unsubscribe(const std::string& id) { hub_->Unsubscribe(id); }

gateway::ClusterStatus KvService::Status() {
  NodeStatus n = driver_->Status();
  gateway::ClusterStatus s;
  s.node_id = n.node_id;
  s.role = RoleString(n);
  s.removed = n.removed;
  s.leader_id = n.leader_id;
  s.leader_address = n.leader_address;
  s.term = n.term;
  s.commit_index = n.commit_index;
  s.applied_index = n.applied_index;
  for (const raft::MemberStatus& m : n.members) {
    gateway::PeerInfo p;
    p.node_id = m.member.node_id();
    p.address = m.member.address();
    p.voter = m.voter;
    bool self = p.node_id == n.node_id;
    p.match_index = self ? n.last_index : m.match;
    p.reachable = self || m.recent_active || driver_->transport()->Reachable(p.node_id);
    s.peers.push_back(std::move(p));
  }
  return s;
}

void KvService::StatusWithHash(Callback<gateway::ClusterStatus> done) {
  hasher_.Get([this, done = std::move(done)](absl::StatusOr<StateHash> hash) {
    gateway::ClusterStatus s = Status();
    if (hash.ok()) {
      s.applied_index = hash->applied_index;  // the index the hash is of
      s.state_hash = hash->hash;
    }
    done(std::move(s));
  });
}

bool KvService::Ready(std::string* why) {
  NodeStatus n = driver_->Status();
  if (n.removed) {
    *why = "this node was removed from the cluster";
    return false;
  }
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
  absl::Status s = storage::ValidateNodeId(node_id);
  if (s.ok()) s = storage::ValidateAddress(address);
  if (!s.ok()) return done(s);
  NodeStatus n = driver_->Status();
  raft::Member member;
  member.set_node_id(node_id);
  member.set_address(address);
  for (const raft::MemberStatus& m : n.members) {
    if (m.member.node_id() != node_id) continue;
    if (m.member.address() == address) return done(Status());  // already in: idempotent
    // A member restarted with another --advertise: its address changes
    // through the log, so peers and redirects follow it.
    LOG(WARNING) << "member " << node_id << " moves from " << m.member.address() << " to "
                 << address;
    return driver_->ProposeConfChange(raft::ConfChange::UPDATE_ADDRESS, member,
                                      StatusReply(std::move(done)));
  }
  driver_->ProposeConfChange(raft::ConfChange::ADD_LEARNER, member, StatusReply(std::move(done)));
}

std::function<void(absl::Status)> KvService::StatusReply(
    Callback<gateway::ClusterStatus> done) {
  return [this, done = std::move(done)](absl::Status s) {
    if (!s.ok()) return done(s);
    done(Status());
  };
}

void KvService::Remove(const std::string& node_id, Callback<gateway::ClusterStatus> done) {
  absl::Status s = storage::ValidateNodeId(node_id);
  if (!s.ok()) return done(s);
  raft::Member member;
  member.set_node_id(node_id);
  driver_->ProposeConfChange(raft::ConfChange::REMOVE, member, StatusReply(std::move(done)));
}

void KvService::TransferLeadership(const std::string& node_id,
                                   Callback<gateway::ClusterStatus> done) {
  if (!node_id.empty()) {
    absl::Status s = storage::ValidateNodeId(node_id);
    if (!s.ok()) return done(s);
  }
  driver_->TransferLeadership(node_id, StatusReply(std::move(done)));
}

void KvService::Snapshot(Callback<std::string> done) {
  // On the maintenance thread, one at a time: a read transaction pins a
  // consistent state (with its applied index) and is serialized while the
  // Raft loop goes on. Only a few may queue: each holds a whole image.
  if (backups_queued_.fetch_add(1) >= kMaxQueuedBackups) {
    backups_queued_.fetch_sub(1);
    return done(absl::UnavailableError("backups already in progress; retry when they are done"));
  }
  maintenance_->Post([this, done = std::move(done)]() mutable {
    absl::StatusOr<std::unique_ptr<storage::KvStore::Pinned>> pinned = store_->Pin();
    absl::StatusOr<std::string> image =
        pinned.ok() ? (*pinned)->Serialize() : absl::StatusOr<std::string>(pinned.status());
    pinned = absl::StatusOr<std::unique_ptr<storage::KvStore::Pinned>>(nullptr);
    backups_queued_.fetch_sub(1);
    done(std::move(image));
  });
}

}  // namespace concordance
