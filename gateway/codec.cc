#include "gateway/codec.h"

#include "absl/strings/str_cat.h"

namespace concordance::gateway {
namespace {

std::string Finish(rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

void WriteSetResult(JsonWriter& w, const SetResult& r) {
  w.StartObject();
  Key(w, "version");
  w.Int64(r.version);
  Key(w, "seq");
  w.Int64(r.seq);
  Key(w, "updatedAt");
  w.Int64(r.updated_at);
  Key(w, "expiresAt");
  if (r.expires_at > 0) {
    w.Int64(r.expires_at);
  } else {
    w.Null();
  }
  w.EndObject();
}

}  // namespace

absl::StatusOr<std::string> RequiredString(const rapidjson::Value& obj, const char* name) {
  absl::StatusOr<std::optional<std::string>> v = OptionalString(obj, name);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" is required"));
  }
  return std::move(**v);
}

absl::Status ParseSetBody(const rapidjson::Value& obj, SetRequest* out) {
  if (!obj.IsObject()) return absl::InvalidArgumentError("expected a JSON object");
  auto value = obj.FindMember("value");
  if (value == obj.MemberEnd()) {
    return absl::InvalidArgumentError("\"value\" is required (any JSON value)");
  }
  out->value_json = Serialize(value->value);
  absl::StatusOr<std::optional<int64_t>> ev = OptionalInt(obj, "expectedVersion");
  if (!ev.ok()) return ev.status();
  if (*ev && **ev < 0) return absl::InvalidArgumentError("\"expectedVersion\" must be >= 0");
  out->expected_version = *ev;
  absl::StatusOr<std::optional<int64_t>> ttl = OptionalInt(obj, "ttlMs");
  if (!ttl.ok()) return ttl.status();
  // Bounded so that now + ttlMs and every later comparison stay in int64.
  constexpr int64_t kMaxTtlMs = int64_t{100} * 365 * 24 * 3600 * 1000;  // 100 years
  constexpr int64_t kMaxExpiresAt = 253402300799999;  // 9999-12-31T23:59:59.999Z
  if (*ttl && (**ttl <= 0 || **ttl > kMaxTtlMs)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"ttlMs\" must be between 1 and ", kMaxTtlMs, " (100 years)"));
  }
  out->ttl_ms = *ttl;
  absl::StatusOr<std::optional<int64_t>> at = OptionalInt(obj, "expiresAt");
  if (!at.ok()) return at.status();
  if (*at && (**at <= 0 || **at > kMaxExpiresAt)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"expiresAt\" must be a Unix time in ms between 1 and ", kMaxExpiresAt));
  }
  out->expires_at = *at;
  if (out->ttl_ms && out->expires_at) {
    return absl::InvalidArgumentError("give either \"ttlMs\" or \"expiresAt\", not both");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BatchOp>> ParseBatchOps(const rapidjson::Value& ops) {
  if (!ops.IsArray()) return absl::InvalidArgumentError("\"ops\" must be an array");
  std::vector<BatchOp> out;
  for (rapidjson::SizeType i = 0; i < ops.Size(); ++i) {
    const rapidjson::Value& o = ops[i];
    auto fail = [i](const absl::Status& s) {
      return absl::InvalidArgumentError(absl::StrCat("ops[", i, "]: ", s.message()));
    };
    if (!o.IsObject()) return fail(absl::InvalidArgumentError("expected an object"));
    absl::StatusOr<std::string> op = RequiredString(o, "op");
    if (!op.ok()) return fail(op.status());
    BatchOp b;
    absl::StatusOr<std::string> ns = RequiredString(o, "namespace");
    if (!ns.ok()) return fail(ns.status());
    absl::StatusOr<std::string> key = RequiredString(o, "key");
    if (!key.ok()) return fail(key.status());
    if (*op == "set") {
      b.is_set = true;
      absl::Status s = ParseSetBody(o, &b.set);
      if (!s.ok()) return fail(s);
    } else if (*op == "delete") {
      b.is_set = false;
      absl::StatusOr<std::optional<int64_t>> ev = OptionalInt(o, "expectedVersion");
      if (!ev.ok()) return fail(ev.status());
      b.set.expected_version = *ev;
    } else {
      return fail(absl::InvalidArgumentError("\"op\" must be \"set\" or \"delete\""));
    }
    b.set.ns = std::move(*ns);
    b.set.key = std::move(*key);
    out.push_back(std::move(b));
  }
  return out;
}

absl::StatusOr<int> ParsePageLimit(std::optional<int64_t> limit, int max_page) {
  int64_t v = limit.value_or(100);
  if (v < 1 || v > max_page) {
    return absl::InvalidArgumentError(absl::StrCat("limit must be between 1 and ", max_page));
  }
  return static_cast<int>(v);
}

absl::StatusOr<ReadOptions> ParseReadOptions(absl::string_view consistency,
                                             std::optional<int64_t> min_seq) {
  ReadOptions r;
  if (consistency == "linearizable") {
    r.linearizable = true;
  } else if (!consistency.empty() && consistency != "local") {
    return absl::InvalidArgumentError("consistency must be \"local\" or \"linearizable\"");
  }
  if (min_seq && *min_seq < 0) return absl::InvalidArgumentError("minSeq must be >= 0");
  r.min_seq = min_seq;
  return r;
}

std::string SetResultJson(const SetResult& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteSetResult(w, r);
  return Finish(buf);
}

std::string DeleteResultJson(const DeleteResult& r) {
  return absl::StrCat("{\"seq\":", r.seq, "}");
}

std::string EntryJson(const v1::Entry& e) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteEntry(w, e);
  return Finish(buf);
}

std::string ListJson(const ListResult& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "entries");
  w.StartArray();
  for (const v1::Entry& e : r.entries) WriteEntry(w, e);
  w.EndArray();
  Key(w, "next");
  if (r.next) {
    String(w, *r.next);
  } else {
    w.Null();
  }
  w.EndObject();
  return Finish(buf);
}

std::string BatchResultJson(const BatchResult& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "results");
  w.StartArray();
  for (const BatchResult::Op& op : r.ops) {
    if (op.is_set) {
      WriteSetResult(w, op.set);
    } else {
      w.StartObject();
      Key(w, "seq");
      w.Int64(op.set.seq);
      w.EndObject();
    }
  }
  w.EndArray();
  w.EndObject();
  return Finish(buf);
}

std::string ChangesJson(const ChangesResult& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "changes");
  w.StartArray();
  for (const v1::ChangeEvent& c : r.changes) WriteChange(w, c);
  w.EndArray();
  Key(w, "nextSeq");
  w.Int64(r.next_seq);
  Key(w, "oldestSeq");
  w.Int64(r.oldest_seq);
  w.EndObject();
  return Finish(buf);
}

std::string ClusterStatusJson(const ClusterStatus& s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "nodeId");
  String(w, s.node_id);
  Key(w, "role");
  String(w, s.role);
  if (s.removed) {
    Key(w, "removed");
    w.Bool(true);
  }
  Key(w, "leader");
  if (s.leader_id.empty()) {
    w.Null();
  } else {
    w.StartObject();
    Key(w, "nodeId");
    String(w, s.leader_id);
    Key(w, "address");
    String(w, s.leader_address);
    w.EndObject();
  }
  Key(w, "term");
  w.Uint64(s.term);
  Key(w, "commitIndex");
  w.Uint64(s.commit_index);
  Key(w, "appliedIndex");
  w.Uint64(s.applied_index);
  if (!s.state_hash.empty()) {  // only when asked for (a full scan)
    Key(w, "stateHash");
    String(w, s.state_hash);
  }
  Key(w, "peers");
  w.StartArray();
  for (const PeerInfo& p : s.peers) {
    w.StartObject();
    Key(w, "nodeId");
    String(w, p.node_id);
    Key(w, "address");
    String(w, p.address);
    Key(w, "voter");
    w.Bool(p.voter);
    Key(w, "matchIndex");
    w.Uint64(p.match_index);
    Key(w, "reachable");
    w.Bool(p.reachable);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Finish(buf);
}

std::string SubscribeResultJson(const SubscribeResult& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "subscriptionId");
  String(w, r.subscription_id);
  Key(w, "seq");
  w.Int64(r.seq);
  w.EndObject();
  return Finish(buf);
}

}  // namespace concordance::gateway
