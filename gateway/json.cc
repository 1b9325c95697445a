#include "gateway/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "absl/strings/str_cat.h"
#include "storage/validation.h"
#include "util/status_payloads.h"

namespace concordance::gateway {
namespace {

constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag;

// Forwards SAX events to a Document while counting nesting depth and
// checking that every decoded string is valid UTF-8: the raw text is
// validated by the reader, but an escape such as "\udc00" (a lone
// surrogate) decodes to bytes that are not UTF-8.
class DepthGuard {
 public:
  DepthGuard(rapidjson::Document& doc, int max_depth, bool strict_utf8)
      : doc_(doc), max_(max_depth), strict_utf8_(strict_utf8) {}
  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned i) { return doc_.Uint(i); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t i) { return doc_.Uint64(i); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return Utf8(s, n) && doc_.String(s, n, copy);
  }
  bool StartObject() { return ++depth_ <= max_ && doc_.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return Utf8(s, n) && doc_.Key(s, n, copy);
  }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() { return ++depth_ <= max_ && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }
  bool too_deep() const { return depth_ > max_; }
  bool bad_utf8() const { return bad_utf8_; }

 private:
  bool Utf8(const char* s, rapidjson::SizeType n) {
    if (storage::IsValidUtf8(absl::string_view(s, n))) return true;
    bad_utf8_ = true;
    return !strict_utf8_;
  }

  rapidjson::Document& doc_;
  int max_;
  bool strict_utf8_;
  int depth_ = 0;
  bool bad_utf8_ = false;
};

}  // namespace

absl::StatusOr<rapidjson::Document> ParseJson(absl::string_view text, int max_depth,
                                              bool* invalid_utf8) {
  rapidjson::Document doc;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  rapidjson::ParseResult result;
  bool too_deep = false, bad_utf8 = false;
  auto generator = [&](rapidjson::Document& handler) {
    rapidjson::Reader reader;
    DepthGuard guard(handler, max_depth, /*strict_utf8=*/invalid_utf8 == nullptr);
    result = reader.Parse<kParseFlags>(in, guard);
    too_deep = guard.too_deep();
    bad_utf8 = guard.bad_utf8();
    return !result.IsError();
  };
  doc.Populate(generator);
  if (too_deep) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nests deeper than ", max_depth, " levels"));
  }
  if (invalid_utf8 != nullptr) *invalid_utf8 = bad_utf8;
  if (bad_utf8 && invalid_utf8 == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JSON string at offset ", result.Offset(),
        " decodes to invalid UTF-8 (a lone surrogate escape such as \\udc00?)"));
  }
  if (result.IsError()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed JSON at offset ", result.Offset(), ": ",
        rapidjson::GetParseError_En(result.Code())));
  }
  return doc;
}

bool HasInvalidUtf8(const rapidjson::Value& v) {
  if (v.IsString()) return !storage::IsValidUtf8(absl::string_view(v.GetString(), v.GetStringLength()));
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (HasInvalidUtf8(e)) return true;
    }
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (HasInvalidUtf8(m.name) || HasInvalidUtf8(m.value)) return true;
    }
  }
  return false;
}

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

void WriteEntry(JsonWriter& w, const v1::Entry& e) {
  w.StartObject();
  Key(w, "namespace");
  String(w, e.namespace_());
  Key(w, "key");
  String(w, e.key());
  Key(w, "value");
  Raw(w, e.value());
  Key(w, "version");
  w.Int64(e.version());
  Key(w, "updatedBy");
  String(w, e.updated_by());
  Key(w, "updatedAt");
  w.Int64(e.updated_at());
  Key(w, "expiresAt");
  if (e.expires_at() > 0) {
    w.Int64(e.expires_at());
  } else {
    w.Null();
  }
  if (!e.error().empty()) WriteEntryError(w, e.error());
  w.EndObject();
}

void WriteChange(JsonWriter& w, const v1::ChangeEvent& c, absl::string_view sub_id) {
  w.StartObject();
  if (!sub_id.empty()) {
    Key(w, "subscriptionId");
    String(w, sub_id);
  }
  Key(w, "seq");
  w.Int64(c.seq());
  Key(w, "op");
  String(w, c.op());
  Key(w, "namespace");
  String(w, c.namespace_());
  Key(w, "key");
  String(w, c.key());
  Key(w, "value");
  if (c.op() == "set") {
    Raw(w, c.value());
  } else {
    w.Null();
  }
  Key(w, "version");
  w.Int64(c.version());
  Key(w, "actor");
  String(w, c.actor());
  Key(w, "timestamp");
  w.Int64(c.timestamp());
  Key(w, "tenantId");
  String(w, c.tenant_id());
  if (!c.error().empty()) WriteEntryError(w, c.error());
  w.EndObject();
}

void WriteEntryError(JsonWriter& w, absl::string_view message) {
  Key(w, "error");
  w.StartObject();
  Key(w, "code");
  String(w, "undecryptable");
  Key(w, "message");
  String(w, SafeText(message));
  w.EndObject();
}

std::string SafeText(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    // The longest valid UTF-8 sequence starting here (1-4 bytes), if any.
    size_t n = 0;
    for (size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
      if (storage::IsValidUtf8(s.substr(i, len))) {
        n = len;
        break;
      }
    }
    unsigned char c = s[i];
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

void WriteErrorDetails(JsonWriter& w, const absl::Status& s) {
  if (auto v = IntPayload(s, kCurrentVersionPayload)) {
    Key(w, "currentVersion");
    w.Int64(*v);
  }
  if (auto v = IntPayload(s, kOpIndexPayload)) {
    Key(w, "opIndex");
    w.Int64(*v);
  }
  if (auto v = IntPayload(s, kOldestSeqPayload)) {
    Key(w, "oldestSeq");
    w.Int64(*v);
  }
  if (auto id = TextPayload(s, kLeaderIdPayload)) {
    Key(w, "leader");
    w.StartObject();
    Key(w, "nodeId");
    String(w, *id);
    Key(w, "address");
    String(w, TextPayload(s, kLeaderAddressPayload).value_or(""));
    w.EndObject();
  }
  if (s.code() == absl::StatusCode::kUnavailable ||
      s.code() == absl::StatusCode::kDeadlineExceeded) {
    Key(w, "retryable");
    w.Bool(true);
  }
  if (s.GetPayload(kIndeterminatePayload).has_value()) {
    Key(w, "indeterminate");
    w.Bool(true);
  }
}

absl::StatusOr<std::optional<int64_t>> OptionalInt(const rapidjson::Value& obj,
                                                   const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::optional<int64_t>();
  if (!it->value.IsInt64()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be an integer"));
  }
  return std::optional<int64_t>(it->value.GetInt64());
}

absl::StatusOr<std::optional<std::string>> OptionalString(const rapidjson::Value& obj,
                                                          const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::optional<std::string>();
  if (!it->value.IsString()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a string"));
  }
  return std::optional<std::string>(
      std::string(it->value.GetString(), it->value.GetStringLength()));
}

}  // namespace concordance::gateway
