#include "gateway/raft_codec.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace concordance::gateway {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, absl::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void U64(Writer& w, const char* k, uint64_t v) {
  w.Key(k);
  w.Uint64(v);
}
void Bool(Writer& w, const char* k, bool v) {
  w.Key(k);
  w.Bool(v);
}

void WriteMembers(Writer& w, const char* k,
                  const google::protobuf::RepeatedPtrField<raft::Member>& members) {
  w.Key(k);
  w.StartArray();
  for (const raft::Member& m : members) {
    w.StartArray();
    Str(w, m.node_id());
    Str(w, m.address());
    w.EndArray();
  }
  w.EndArray();
}

// Terms, log indexes and offsets at or beyond this are malformed (the Raft
// core refuses them too, and never moves its own past it).
constexpr uint64_t kMaxTermOrIndex = uint64_t{1} << 62;

// Readers that fail soft: `ok` turns false on a missing/mistyped field.
struct Reader {
  const rapidjson::Value& v;
  bool ok = true;
  // A term, an index or an offset: below 2^62.
  uint64_t Idx(const char* k) {
    uint64_t x = U64(k);
    if (x >= kMaxTermOrIndex) ok = false;
    return x;
  }
  uint64_t U64(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd()) return 0;  // absent = default
    if (!it->value.IsUint64()) {
      ok = false;
      return 0;
    }
    return it->value.GetUint64();
  }
  bool Bool(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd()) return false;
    if (!it->value.IsBool()) {
      ok = false;
      return false;
    }
    return it->value.GetBool();
  }
  std::string Str(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsString()) {
      ok = false;
      return "";
    }
    return std::string(it->value.GetString(), it->value.GetStringLength());
  }
};

bool ReadMembers(const rapidjson::Value& v, const char* k,
                 google::protobuf::RepeatedPtrField<raft::Member>* out) {
  auto it = v.FindMember(k);
  if (it == v.MemberEnd()) return true;
  if (!it->value.IsArray()) return false;
  for (const auto& m : it->value.GetArray()) {
    if (!m.IsArray() || m.Size() != 2 || !m[0].IsString() || !m[1].IsString()) return false;
    raft::Member* mem = out->Add();
    mem->set_node_id(m[0].GetString(), m[0].GetStringLength());
    mem->set_address(m[1].GetString(), m[1].GetStringLength());
  }
  return true;
}

bool ReadIds(const rapidjson::Value& v, const char* k,
             google::protobuf::RepeatedPtrField<std::string>* out) {
  auto it = v.FindMember(k);
  if (it == v.MemberEnd()) return true;
  if (!it->value.IsArray()) return false;
  for (const auto& id : it->value.GetArray()) {
    if (!id.IsString()) return false;
    out->Add(std::string(id.GetString(), id.GetStringLength()));
  }
  return true;
}

void WriteEntries(Writer& w, const google::protobuf::RepeatedPtrField<raft::LogEntry>& entries) {
  w.Key("entries");
  w.StartArray();
  std::string b64;
  for (const raft::LogEntry& e : entries) {
    w.StartArray();
    w.Uint64(e.index());
    w.Uint64(e.term());
    w.Int(e.type());
    absl::Base64Escape(e.data(), &b64);
    Str(w, b64);
    w.EndArray();
  }
  w.EndArray();
}

void WriteSnapshotMeta(Writer& w, const raft::SnapshotMeta& meta) {
  w.Key("meta");
  w.StartObject();
  U64(w, "index", meta.index());
  U64(w, "term", meta.term());
  U64(w, "size", meta.size());
  U64(w, "checksum", meta.checksum());
  WriteMembers(w, "voters", meta.conf_state().voters());
  WriteMembers(w, "learners", meta.conf_state().learners());
  if (meta.conf_state().removed_size() > 0) {
    w.Key("removed");
    w.StartArray();
    for (const std::string& id : meta.conf_state().removed()) Str(w, id);
    w.EndArray();
  }
  w.EndObject();
}

// Entries as [index, term, type, base64 data] arrays.
absl::Status ReadEntries(const rapidjson::Value& v,
                         google::protobuf::RepeatedPtrField<raft::LogEntry>* out) {
  if (!v.IsArray()) return absl::InvalidArgumentError("entries must be an array");
  for (const auto& e : v.GetArray()) {
    if (!e.IsArray() || e.Size() != 4 || !e[0].IsUint64() || !e[1].IsUint64() ||
        e[0].GetUint64() >= kMaxTermOrIndex || e[1].GetUint64() >= kMaxTermOrIndex ||
        !e[2].IsInt() || !e[3].IsString() || !raft::EntryType_IsValid(e[2].GetInt())) {
      return absl::InvalidArgumentError("malformed log entry");
    }
    raft::LogEntry* le = out->Add();
    le->set_index(e[0].GetUint64());
    le->set_term(e[1].GetUint64());
    le->set_type(static_cast<raft::EntryType>(e[2].GetInt()));
    if (!absl::Base64Unescape(absl::string_view(e[3].GetString(), e[3].GetStringLength()),
                              le->mutable_data())) {
      return absl::InvalidArgumentError("entry data is not base64");
    }
  }
  return absl::OkStatus();
}

bool ReadSnapshotMeta(const rapidjson::Value& v, raft::SnapshotMeta* meta) {
  Reader mr{v};
  meta->set_index(mr.Idx("index"));
  meta->set_term(mr.Idx("term"));
  meta->set_size(mr.Idx("size"));
  meta->set_checksum(mr.U64("checksum"));
  return mr.ok && ReadMembers(v, "voters", meta->mutable_conf_state()->mutable_voters()) &&
         ReadMembers(v, "learners", meta->mutable_conf_state()->mutable_learners()) &&
         ReadIds(v, "removed", meta->mutable_conf_state()->mutable_removed());
}

}  // namespace

std::string EncodeRaftMessage(const raft::Message& m, std::string* binary) {
  binary->clear();
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("from");
  Str(w, m.from());
  w.Key("to");
  Str(w, m.to());
  U64(w, "term", m.term());
  w.Key("type");
  switch (m.body_case()) {
    case raft::Message::kRequestVote: {
      const auto& b = m.request_vote();
      Str(w, "vote");
      U64(w, "lastLogIndex", b.last_log_index());
      U64(w, "lastLogTerm", b.last_log_term());
      Bool(w, "preVote", b.pre_vote());
      Bool(w, "transfer", b.transfer());
      break;
    }
    case raft::Message::kRequestVoteResponse: {
      const auto& b = m.request_vote_response();
      Str(w, "voteResp");
      Bool(w, "granted", b.granted());
      Bool(w, "preVote", b.pre_vote());
      break;
    }
    case raft::Message::kAppendEntries: {
      const auto& b = m.append_entries();
      Str(w, "app");
      U64(w, "prevLogIndex", b.prev_log_index());
      U64(w, "prevLogTerm", b.prev_log_term());
      U64(w, "leaderCommit", b.leader_commit());
      if (b.heartbeat()) Bool(w, "heartbeat", true);
      if (b.read_round()) U64(w, "readRound", b.read_round());
      WriteEntries(w, b.entries());
      break;
    }
    case raft::Message::kAppendEntriesResponse: {
      const auto& b = m.append_entries_response();
      Str(w, "appResp");
      Bool(w, "success", b.success());
      U64(w, "matchIndex", b.match_index());
      if (!b.success()) {
        U64(w, "conflictIndex", b.conflict_index());
        U64(w, "conflictTerm", b.conflict_term());
        U64(w, "lastLogIndex", b.last_log_index());
        U64(w, "rejectedIndex", b.rejected_index());
      }
      if (b.heartbeat()) Bool(w, "heartbeat", true);
      if (b.read_round()) U64(w, "readRound", b.read_round());
      break;
    }
    case raft::Message::kInstallSnapshot: {
      const auto& b = m.install_snapshot();
      Str(w, "snap");
      WriteSnapshotMeta(w, b.meta());
      U64(w, "offset", b.offset());
      Bool(w, "done", b.done());
      U64(w, "dataLength", b.data().size());
      *binary = b.data();
      break;
    }
    case raft::Message::kInstallSnapshotResponse: {
      const auto& b = m.install_snapshot_response();
      Str(w, "snapResp");
      U64(w, "snapshotIndex", b.snapshot_index());
      U64(w, "nextOffset", b.next_offset());
      Bool(w, "done", b.done());
      Bool(w, "rejected", b.rejected());
      break;
    }
    case raft::Message::kTimeoutNow:
      Str(w, "timeoutNow");
      break;
    case raft::Message::kReadIndexRequest:
      Str(w, "readIndex");
      U64(w, "requestId", m.read_index_request().request_id());
      break;
    case raft::Message::kReadIndexResponse: {
      const auto& b = m.read_index_response();
      Str(w, "readIndexResp");
      U64(w, "requestId", b.request_id());
      U64(w, "index", b.index());
      Bool(w, "rejected", b.rejected());
      break;
    }
    case raft::Message::BODY_NOT_SET:
      Str(w, "none");
      break;
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

absl::StatusOr<raft::Message> DecodeRaftMessage(absl::string_view json, size_t* binary_length) {
  *binary_length = 0;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                  json.size());
  if (d.HasParseError() || !d.IsObject()) {
    return absl::InvalidArgumentError("raft message is not a JSON object");
  }
  Reader r{d};
  raft::Message m;
  m.set_from(r.Str("from"));
  m.set_to(r.Str("to"));
  m.set_term(r.Idx("term"));
  std::string type = r.Str("type");
  if (type == "vote") {
    auto* b = m.mutable_request_vote();
    b->set_last_log_index(r.Idx("lastLogIndex"));
    b->set_last_log_term(r.Idx("lastLogTerm"));
    b->set_pre_vote(r.Bool("preVote"));
    b->set_transfer(r.Bool("transfer"));
  } else if (type == "voteResp") {
    auto* b = m.mutable_request_vote_response();
    b->set_granted(r.Bool("granted"));
    b->set_pre_vote(r.Bool("preVote"));
  } else if (type == "app") {
    auto* b = m.mutable_append_entries();
    b->set_prev_log_index(r.Idx("prevLogIndex"));
    b->set_prev_log_term(r.Idx("prevLogTerm"));
    b->set_leader_commit(r.Idx("leaderCommit"));
    b->set_heartbeat(r.Bool("heartbeat"));
    b->set_read_round(r.U64("readRound"));
    auto it = d.FindMember("entries");
    if (it != d.MemberEnd()) RETURN_IF_ERROR(ReadEntries(it->value, b->mutable_entries()));
  } else if (type == "appResp") {
    auto* b = m.mutable_append_entries_response();
    b->set_success(r.Bool("success"));
    b->set_match_index(r.Idx("matchIndex"));
    b->set_conflict_index(r.Idx("conflictIndex"));
    b->set_conflict_term(r.Idx("conflictTerm"));
    b->set_last_log_index(r.Idx("lastLogIndex"));
    b->set_rejected_index(r.Idx("rejectedIndex"));
    b->set_heartbeat(r.Bool("heartbeat"));
    b->set_read_round(r.U64("readRound"));
  } else if (type == "snap") {
    auto* b = m.mutable_install_snapshot();
    auto it = d.FindMember("meta");
    if (it == d.MemberEnd() || !it->value.IsObject()) {
      return absl::InvalidArgumentError("snapshot notice without meta");
    }
    if (!ReadSnapshotMeta(it->value, b->mutable_meta())) {
      return absl::InvalidArgumentError("malformed snapshot meta");
    }
    b->set_offset(r.Idx("offset"));
    b->set_done(r.Bool("done"));
    *binary_length = r.Idx("dataLength");
  } else if (type == "snapResp") {
    auto* b = m.mutable_install_snapshot_response();
    b->set_snapshot_index(r.Idx("snapshotIndex"));
    b->set_next_offset(r.Idx("nextOffset"));
    b->set_done(r.Bool("done"));
    b->set_rejected(r.Bool("rejected"));
  } else if (type == "timeoutNow") {
    m.mutable_timeout_now();
  } else if (type == "readIndex") {
    m.mutable_read_index_request()->set_request_id(r.U64("requestId"));
  } else if (type == "readIndexResp") {
    auto* b = m.mutable_read_index_response();
    b->set_request_id(r.U64("requestId"));
    b->set_index(r.Idx("index"));
    b->set_rejected(r.Bool("rejected"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown raft message type \"", type, "\""));
  }
  if (!r.ok) return absl::InvalidArgumentError("raft message has a field of the wrong type, or a term or index beyond 2^62");
  return m;
}

}  // namespace concordance::gateway
