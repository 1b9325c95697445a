#include "gateway/codec.h"

#include "absl/strings/str_cat.h"

namespace concordance::gateway {
namespace {

std::string Finish(rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

void WritePutResponse(JsonWriter& w, const v1::PutResponse& r) {
  w.StartObject();
  Key(w, "version");
  w.Int64(r.version());
  Key(w, "seq");
  w.Int64(r.seq());
  Key(w, "updatedAt");
  w.Int64(r.updated_at());
  Key(w, "expiresAt");
  if (r.expires_at() > 0) {
    w.Int64(r.expires_at());
  } else {
    w.Null();
  }
  w.EndObject();
}

template <typename Write>
absl::Status DecodeWriteFields(const rapidjson::Value& obj, Write* out) {
  if (!obj.IsObject()) return absl::InvalidArgumentError("expected a JSON object");
  auto value = obj.FindMember("value");
  if (value != obj.MemberEnd()) out->set_value(Serialize(value->value));
  for (auto [name, set] : {
           std::make_pair("expectedVersion", +[](Write* w, int64_t v) { w->set_expected_version(v); }),
           std::make_pair("ttlMs", +[](Write* w, int64_t v) { w->set_ttl_ms(v); }),
           std::make_pair("expiresAt", +[](Write* w, int64_t v) { w->set_expires_at(v); }),
       }) {
    absl::StatusOr<std::optional<int64_t>> v = OptionalInt(obj, name);
    if (!v.ok()) return v.status();
    if (*v) set(out, **v);
  }
  return absl::OkStatus();
}

absl::Status DecodeBatchOp(const rapidjson::Value& o, v1::BatchOp* out) {
  if (!o.IsObject()) return absl::InvalidArgumentError("expected an object");
  std::string op;
  absl::Status s = ReadString(o, "op", &op);
  if (!s.ok()) return s;
  if (op == "set") {
    v1::SetOp* set = out->mutable_set();
    s = ReadString(o, "namespace", set->mutable_namespace_());
    if (s.ok()) s = ReadString(o, "key", set->mutable_key());
    if (s.ok()) s = DecodeWrite(o, set);
    return s;
  }
  if (op == "delete") {
    v1::DeleteOp* del = out->mutable_delete_();
    s = ReadString(o, "namespace", del->mutable_namespace_());
    if (s.ok()) s = ReadString(o, "key", del->mutable_key());
    absl::StatusOr<std::optional<int64_t>> ev = OptionalInt(o, "expectedVersion");
    if (s.ok()) s = ev.status();
    if (s.ok() && *ev) del->set_expected_version(**ev);
    return s;
  }
  return absl::InvalidArgumentError("\"op\" must be \"set\" or \"delete\"");
}

void WriteChanges(JsonWriter& w, const google::protobuf::RepeatedPtrField<v1::ChangeEvent>& c) {
  w.StartArray();
  for (const v1::ChangeEvent& e : c) WriteChange(w, e);
  w.EndArray();
}

}  // namespace

absl::Status ReadString(const rapidjson::Value& obj, const char* name, std::string* out) {
  absl::StatusOr<std::optional<std::string>> v = OptionalString(obj, name);
  if (!v.ok()) return v.status();
  if (*v) *out = std::move(**v);
  return absl::OkStatus();
}

absl::Status DecodeWrite(const rapidjson::Value& obj, v1::PutRequest* out) {
  return DecodeWriteFields(obj, out);
}

absl::Status DecodeWrite(const rapidjson::Value& obj, v1::SetOp* out) {
  return DecodeWriteFields(obj, out);
}

absl::Status DecodeBatch(const rapidjson::Value& body, v1::BatchRequest* out) {
  if (!body.IsObject()) return absl::InvalidArgumentError("expected a JSON object");
  auto ops = body.FindMember("ops");
  if (ops == body.MemberEnd() || ops->value.IsNull()) return absl::OkStatus();  // no ops
  if (!ops->value.IsArray()) return absl::InvalidArgumentError("\"ops\" must be an array");
  for (rapidjson::SizeType i = 0; i < ops->value.Size(); ++i) {
    absl::Status s = DecodeBatchOp(ops->value[i], out->add_ops());
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("ops[", i, "]: ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Consistency> DecodeConsistency(absl::string_view s) {
  if (s.empty() || s == "local") return v1::LOCAL;
  if (s == "linearizable") return v1::LINEARIZABLE;
  return absl::InvalidArgumentError("consistency must be \"local\" or \"linearizable\"");
}

std::string EntryJson(const v1::Entry& e) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteEntry(w, e);
  return Finish(buf);
}

std::string PutResponseJson(const v1::PutResponse& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WritePutResponse(w, r);
  return Finish(buf);
}

std::string DeleteResponseJson(const v1::DeleteResponse& r) {
  return absl::StrCat("{\"seq\":", r.seq(), "}");
}

std::string ListJson(const v1::ListResponse& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "entries");
  w.StartArray();
  for (const v1::Entry& e : r.entries()) WriteEntry(w, e);
  w.EndArray();
  Key(w, "next");
  if (!r.next().empty()) {
    String(w, r.next());
  } else {
    w.Null();
  }
  w.EndObject();
  return Finish(buf);
}

std::string BatchJson(const v1::BatchResponse& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "results");
  w.StartArray();
  for (const v1::BatchResult& res : r.results()) {
    if (res.has_set()) {
      WritePutResponse(w, res.set());
    } else {
      w.StartObject();
      Key(w, "seq");
      w.Int64(res.delete_().seq());
      w.EndObject();
    }
  }
  w.EndArray();
  w.EndObject();
  return Finish(buf);
}

std::string ChangesJson(const v1::ChangesResponse& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "changes");
  WriteChanges(w, r.changes());
  Key(w, "nextSeq");
  w.Int64(r.next_seq());
  Key(w, "oldestSeq");
  w.Int64(r.oldest_seq());
  w.EndObject();
  return Finish(buf);
}

std::string StatusJson(const v1::StatusResponse& s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "nodeId");
  String(w, s.node_id());
  Key(w, "role");
  String(w, s.role());
  if (s.removed()) {
    Key(w, "removed");
    w.Bool(true);
  }
  Key(w, "leader");
  if (!s.has_leader()) {
    w.Null();
  } else {
    w.StartObject();
    Key(w, "nodeId");
    String(w, s.leader().node_id());
    Key(w, "address");
    String(w, s.leader().address());
    w.EndObject();
  }
  Key(w, "term");
  w.Uint64(s.term());
  Key(w, "commitIndex");
  w.Uint64(s.commit_index());
  Key(w, "appliedIndex");
  w.Uint64(s.applied_index());
  Key(w, "version");
  String(w, s.version());
  if (!s.state_hash().empty()) {  // only when asked for (a full scan)
    Key(w, "stateHash");
    String(w, s.state_hash());
  }
  Key(w, "peers");
  w.StartArray();
  for (const v1::Peer& p : s.peers()) {
    w.StartObject();
    Key(w, "nodeId");
    String(w, p.node_id());
    Key(w, "address");
    String(w, p.address());
    Key(w, "voter");
    w.Bool(p.voter());
    Key(w, "matchIndex");
    w.Uint64(p.match_index());
    Key(w, "reachable");
    w.Bool(p.reachable());
    Key(w, "version");
    String(w, p.version());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Finish(buf);
}

std::string WatchStartedJson(const WatchStarted& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "subscriptionId");
  String(w, r.watch_id);
  Key(w, "seq");
  w.Int64(r.seq);
  w.EndObject();
  return Finish(buf);
}

}  // namespace concordance::gateway
