#include "concordance/kv_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "util/status_payloads.h"

namespace concordance {

using gateway::Callback;
using gateway::Method;

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

absl::Status WithOpIndex(const absl::Status& s, int i) {
  absl::Status out(s.code(), absl::StrCat("ops[", i, "]: ", s.message()));
  s.ForEachPayload([&out](absl::string_view k, const absl::Cord& v) { out.SetPayload(k, v); });
  SetIntPayload(out, kOpIndexPayload, i);
  return out;
}

std::optional<int64_t> Opt(bool has, int64_t v) {
  return has ? std::optional<int64_t>(v) : std::nullopt;
}

}  // namespace

KvService::KvService(Options options, storage::KvStore* store, NodeDriver* driver,
                     const CredentialView* credentials, const Clock* clock)
    : options_(options), store_(store), driver_(driver), credentials_(credentials),
      clock_(clock) {}

void KvService::AfterReadBarrier(const ReadOptions& opts, std::function<void()> read,
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

void KvService::Get(const gateway::Caller& caller, const v1::GetRequest& req,
                    Callback<v1::Entry> done) {
  absl::Status s = gateway::Authorize(caller, Method::kGet);
  if (s.ok()) s = ValidateNamespaceAndKey(req.namespace_(), req.key(), options_.limits);
  absl::StatusOr<ReadOptions> read = ResolveReadOptions(req.consistency(), req.min_seq());
  if (s.ok()) s = read.status();
  if (s.ok()) s = driver_->CheckServing();
  if (!s.ok()) return done(s);
  AfterReadBarrier(
      *read,
      [this, ns = req.namespace_(), key = req.key(), done] {
        absl::StatusOr<v1::Entry> e = store_->Get(ns, key, clock_->NowMs());
        if (e.ok()) {
          absl::Status r = credentials_->Open(e->namespace_(), e->key(), e->mutable_value());
          if (!r.ok()) return done(r);
        }
        done(std::move(e));
      },
      [done](absl::Status s) { done(s); });
}

void KvService::List(const gateway::Caller& caller, const v1::ListRequest& req,
                     Callback<v1::ListResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kList);
  if (s.ok()) s = storage::ValidateNamespace(req.namespace_(), options_.limits);
  absl::StatusOr<ReadOptions> read = ResolveReadOptions(req.consistency(), req.min_seq());
  absl::StatusOr<int> rows = PageRows(Opt(req.has_limit(), req.limit()));
  if (s.ok()) s = read.status();
  if (s.ok()) s = rows.status();
  if (s.ok()) s = driver_->CheckServing();
  if (!s.ok()) return done(s);
  AfterReadBarrier(
      *read,
      [this, req, rows = *rows, done] {
        absl::StatusOr<storage::ListResult> r =
            store_->List(req.namespace_(), req.prefix(), req.after(), rows, clock_->NowMs(),
                         options_.max_page_bytes);
        if (!r.ok()) return done(r.status());
        v1::ListResponse out;
        for (v1::Entry& e : r->entries) {
          credentials_->Open(&e);
          *out.add_entries() = std::move(e);
        }
        if (r->next) out.set_next(*r->next);
        done(std::move(out));
      },
      [done](absl::Status s) { done(s); });
}

absl::StatusOr<kv::SetOp> KvService::BuildSet(const std::string& ns, const std::string& key,
                                              const std::string& value,
                                              const std::optional<int64_t>& expected_version,
                                              const std::optional<int64_t>& ttl_ms,
                                              const std::optional<int64_t>& expires_at,
                                              int64_t now) const {
  absl::Status s = ValidateNamespaceAndKey(ns, key, options_.limits);
  if (!s.ok()) return s;
  absl::StatusOr<std::string> compact = ValidateValue(value, options_.limits);
  if (!compact.ok()) return compact.status();
  s = ValidateExpectedVersion(expected_version);
  if (!s.ok()) return s;
  absl::StatusOr<int64_t> expiry = ResolveExpiry(ttl_ms, expires_at, now);
  if (!expiry.ok()) return expiry.status();
  absl::StatusOr<std::string> stored = credentials_->Seal(ns, key, *compact);
  if (!stored.ok()) return stored.status();
  kv::SetOp op;
  op.set_namespace_(ns);
  op.set_key(key);
  op.set_value(std::move(*stored));
  if (expected_version) op.set_expected_version(*expected_version);
  op.set_expires_at(*expiry);
  return op;
}

absl::StatusOr<kv::DeleteOp> KvService::BuildDelete(
    const std::string& ns, const std::string& key,
    const std::optional<int64_t>& expected_version) const {
  absl::Status s = ValidateNamespaceAndKey(ns, key, options_.limits);
  if (s.ok()) s = ValidateExpectedVersion(expected_version);
  if (!s.ok()) return s;
  kv::DeleteOp op;
  op.set_namespace_(ns);
  op.set_key(key);
  if (expected_version) op.set_expected_version(*expected_version);
  return op;
}

void KvService::Put(const gateway::Caller& caller, const v1::PutRequest& req,
                    Callback<v1::PutResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kPut);
  if (!s.ok()) return done(s);
  int64_t now = clock_->NowMs();
  absl::StatusOr<kv::SetOp> op =
      BuildSet(req.namespace_(), req.key(), req.value(),
               Opt(req.has_expected_version(), req.expected_version()),
               Opt(req.has_ttl_ms(), req.ttl_ms()), Opt(req.has_expires_at(), req.expires_at()), now);
  s = op.ok() ? driver_->CheckServing() : op.status();
  if (!s.ok()) return done(s);
  kv::Command cmd;
  cmd.set_timestamp_ms(now);
  cmd.set_actor(caller.actor);
  int64_t expires_at = op->expires_at();
  *cmd.mutable_set() = std::move(*op);
  driver_->Propose(cmd.SerializeAsString(), [done, now, expires_at](
                                                absl::StatusOr<storage::CommandResult> r) {
    if (!r.ok()) return done(r.status());
    if (!r->status.ok()) return done(r->status);
    std::vector<const v1::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != 1) return done(absl::InternalError("set produced no change"));
    v1::PutResponse out;
    out.set_version(ev[0]->version());
    out.set_seq(ev[0]->seq());
    out.set_updated_at(now);
    out.set_expires_at(expires_at);
    done(std::move(out));
  }, AnswerOn::kReplyExecutor);
}

void KvService::Delete(const gateway::Caller& caller, const v1::DeleteRequest& req,
                       Callback<v1::DeleteResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kDelete);
  if (!s.ok()) return done(s);
  absl::StatusOr<kv::DeleteOp> op = BuildDelete(
      req.namespace_(), req.key(), Opt(req.has_expected_version(), req.expected_version()));
  s = op.ok() ? driver_->CheckServing() : op.status();
  if (!s.ok()) return done(s);
  kv::Command cmd;
  cmd.set_timestamp_ms(clock_->NowMs());
  cmd.set_actor(caller.actor);
  *cmd.mutable_delete_() = std::move(*op);
  driver_->Propose(cmd.SerializeAsString(), [done](absl::StatusOr<storage::CommandResult> r) {
    if (!r.ok()) return done(r.status());
    if (!r->status.ok()) return done(r->status);
    std::vector<const v1::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != 1) return done(absl::InternalError("delete produced no change"));
    v1::DeleteResponse out;
    out.set_seq(ev[0]->seq());
    done(std::move(out));
  }, AnswerOn::kReplyExecutor);
}

absl::Status KvService::BuildBatch(const v1::BatchRequest& req, int64_t now,
                                   kv::Command* cmd) const {
  absl::Status s = storage::ValidateBatchSize(req.ops_size(), options_.limits);
  if (!s.ok()) return s;
  for (int i = 0; i < req.ops_size(); ++i) {
    const v1::BatchOp& in = req.ops(i);
    kv::BatchOp* out = cmd->mutable_batch()->add_ops();
    if (in.has_set()) {
      const v1::SetOp& o = in.set();
      absl::StatusOr<kv::SetOp> set = BuildSet(
          o.namespace_(), o.key(), o.value(), Opt(o.has_expected_version(), o.expected_version()),
          Opt(o.has_ttl_ms(), o.ttl_ms()), Opt(o.has_expires_at(), o.expires_at()), now);
      if (!set.ok()) return WithOpIndex(set.status(), i);
      *out->mutable_set() = std::move(*set);
    } else if (in.has_delete_()) {
      const v1::DeleteOp& o = in.delete_();
      absl::StatusOr<kv::DeleteOp> del =
          BuildDelete(o.namespace_(), o.key(), Opt(o.has_expected_version(), o.expected_version()));
      if (!del.ok()) return WithOpIndex(del.status(), i);
      *out->mutable_delete_() = std::move(*del);
    } else {
      return WithOpIndex(absl::InvalidArgumentError("an op must be a set or a delete"), i);
    }
  }
  // The whole command must fit the request body limit too.
  if (cmd->ByteSizeLong() > options_.limits.max_body_bytes) {
    return absl::ResourceExhaustedError("batch is larger than the request body limit");
  }
  return absl::OkStatus();
}

void KvService::Batch(const gateway::Caller& caller, const v1::BatchRequest& req,
                      Callback<v1::BatchResponse> done) {
  absl::Status s = gateway::Authorize(caller, Method::kBatch);
  if (!s.ok()) return done(s);
  int64_t now = clock_->NowMs();
  kv::Command cmd;
  cmd.set_timestamp_ms(now);
  cmd.set_actor(caller.actor);
  s = BuildBatch(req, now, &cmd);
  if (s.ok()) s = driver_->CheckServing();
  if (!s.ok()) return done(s);
  std::vector<int64_t> expiries;
  for (const kv::BatchOp& op : cmd.batch().ops()) {
    expiries.push_back(op.has_set() ? op.set().expires_at() : -1);  // -1: a delete
  }
  driver_->Propose(cmd.SerializeAsString(), [done, now, expiries](
                                                absl::StatusOr<storage::CommandResult> r) {
    if (!r.ok()) return done(r.status());
    if (!r->status.ok()) return done(r->status);
    std::vector<const v1::ChangeEvent*> ev = OpEvents(*r);
    if (ev.size() != expiries.size()) return done(absl::InternalError("batch result mismatch"));
    v1::BatchResponse out;
    for (size_t i = 0; i < ev.size(); ++i) {
      v1::BatchResult* res = out.add_results();
      if (expiries[i] < 0) {
        res->mutable_delete_()->set_seq(ev[i]->seq());
        continue;
      }
      v1::PutResponse* set = res->mutable_set();
      set->set_version(ev[i]->version());
      set->set_seq(ev[i]->seq());
      set->set_updated_at(now);
      set->set_expires_at(expiries[i]);
    }
    done(std::move(out));
  }, AnswerOn::kReplyExecutor);
}

}  // namespace concordance
