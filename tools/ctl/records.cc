#include "tools/ctl/records.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace concordance::ctl {
namespace {

void Key(JsonWriter& w, const char* name) { w.Key(name); }

// A value's JSON text as JSON (null when there is none).
void WriteRaw(JsonWriter& w, const std::string& json) {
  if (json.empty()) {
    w.Null();
  } else {
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
}

// A value the node could not decrypt (docs/api.md: "undecryptable").
void WriteUndecryptable(JsonWriter& w, const std::string& message) {
  Key(w, "error");
  w.StartObject();
  Key(w, "code");
  w.String("undecryptable");
  Key(w, "message");
  WriteString(w, message);
  w.EndObject();
}

}  // namespace

std::string Json(const std::function<void(JsonWriter&)>& write) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  write(w);
  return std::string(buf.GetString(), buf.GetSize());
}

void WriteString(JsonWriter& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteTimeOrNull(JsonWriter& w, int64_t unix_ms) {
  if (unix_ms > 0) {
    w.Int64(unix_ms);
  } else {
    w.Null();
  }
}

void WriteEntry(JsonWriter& w, const v1::Entry& e) {
  w.StartObject();
  Key(w, "namespace");
  WriteString(w, e.namespace_());
  Key(w, "key");
  WriteString(w, e.key());
  Key(w, "value");
  WriteRaw(w, e.value());
  Key(w, "version");
  w.Int64(e.version());
  Key(w, "updatedBy");
  WriteString(w, e.updated_by());
  Key(w, "updatedAt");
  w.Int64(e.updated_at());
  Key(w, "expiresAt");
  WriteTimeOrNull(w, e.expires_at());
  if (!e.error().empty()) WriteUndecryptable(w, e.error());
  w.EndObject();
}

void WritePutResult(JsonWriter& w, const v1::PutResponse& r) {
  w.StartObject();
  Key(w, "version");
  w.Int64(r.version());
  Key(w, "seq");
  w.Int64(r.seq());
  Key(w, "updatedAt");
  w.Int64(r.updated_at());
  Key(w, "expiresAt");
  WriteTimeOrNull(w, r.expires_at());
  w.EndObject();
}

void WriteChange(JsonWriter& w, const v1::ChangeEvent& c) {
  w.StartObject();
  Key(w, "seq");
  w.Int64(c.seq());
  Key(w, "op");
  WriteString(w, c.op());
  Key(w, "namespace");
  WriteString(w, c.namespace_());
  Key(w, "key");
  WriteString(w, c.key());
  Key(w, "value");
  WriteRaw(w, c.op() == "set" ? c.value() : "");
  Key(w, "version");
  w.Int64(c.version());
  Key(w, "actor");
  WriteString(w, c.actor());
  Key(w, "timestamp");
  w.Int64(c.timestamp());
  Key(w, "tenantId");
  WriteString(w, c.tenant_id());
  if (!c.error().empty()) WriteUndecryptable(w, c.error());
  w.EndObject();
}

void WriteLeader(JsonWriter& w, const v1::StatusResponse& s) {
  if (!s.has_leader() || s.leader().node_id().empty()) {
    w.Null();
    return;
  }
  w.StartObject();
  Key(w, "nodeId");
  WriteString(w, s.leader().node_id());
  Key(w, "address");
  WriteString(w, s.leader().address());
  w.EndObject();
}

std::string Time(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

std::string ChangeLine(const v1::ChangeEvent& c) {
  std::string line = absl::StrCat(c.seq(), " ", c.op(), " ", c.namespace_(),
                                  " ", c.key(), " v", c.version());
  if (c.op() == "set") absl::StrAppend(&line, " ", c.value());
  if (!c.error().empty()) absl::StrAppend(&line, " (", c.error(), ")");
  return line;
}

}  // namespace concordance::ctl
