// batch [FILE]: atomic ops from a JSON file (or stdin), in the body shape
// of POST /api/v1/batch: {"ops":[{"op":"set"|"delete", "namespace", "key",
// "value"?, "expectedVersion"?, "ttlMs"?, "expiresAt"?}]}.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "tools/ctl/command.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/input.h"
#include "tools/ctl/records.h"
#include "tools/ctl/table.h"

namespace concordance::ctl {
namespace {

absl::Status ReadText(const rapidjson::Value& o, const char* name,
                      std::string* out) {
  auto m = o.FindMember(name);
  if (m == o.MemberEnd()) return absl::OkStatus();
  if (!m->value.IsString()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" must be a string"));
  }
  out->assign(m->value.GetString(), m->value.GetStringLength());
  return absl::OkStatus();
}

// Calls set(value) when `name` is present.
template <typename Set>
absl::Status ReadInt(const rapidjson::Value& o, const char* name, Set set) {
  auto m = o.FindMember(name);
  if (m == o.MemberEnd() || m->value.IsNull()) return absl::OkStatus();
  if (!m->value.IsInt64()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" must be an integer"));
  }
  set(m->value.GetInt64());
  return absl::OkStatus();
}

absl::Status ReadSet(const rapidjson::Value& o, v1::SetOp* set) {
  absl::Status s = ReadText(o, "namespace", set->mutable_namespace_());
  if (s.ok()) s = ReadText(o, "key", set->mutable_key());
  auto value = o.FindMember("value");
  if (value != o.MemberEnd()) {
    set->set_value(Json([&](JsonWriter& w) { value->value.Accept(w); }));
  }
  if (s.ok())
    s = ReadInt(o, "expectedVersion",
                [&](int64_t v) { set->set_expected_version(v); });
  if (s.ok()) s = ReadInt(o, "ttlMs", [&](int64_t v) { set->set_ttl_ms(v); });
  if (s.ok())
    s = ReadInt(o, "expiresAt", [&](int64_t v) { set->set_expires_at(v); });
  return s;
}

absl::Status ReadDelete(const rapidjson::Value& o, v1::DeleteOp* del) {
  absl::Status s = ReadText(o, "namespace", del->mutable_namespace_());
  if (s.ok()) s = ReadText(o, "key", del->mutable_key());
  if (s.ok())
    s = ReadInt(o, "expectedVersion",
                [&](int64_t v) { del->set_expected_version(v); });
  return s;
}

absl::Status ReadOp(const rapidjson::Value& o, v1::BatchOp* out) {
  if (!o.IsObject()) return absl::InvalidArgumentError("expected an object");
  std::string op;
  absl::Status s = ReadText(o, "op", &op);
  if (!s.ok()) return s;
  if (op == "set") return ReadSet(o, out->mutable_set());
  if (op == "delete") return ReadDelete(o, out->mutable_delete_());
  return absl::InvalidArgumentError("\"op\" must be \"set\" or \"delete\"");
}

// The request the file describes; usage errors name what is wrong in it.
absl::StatusOr<v1::BatchRequest> ParseBatch(const std::string& name,
                                            const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError()) {
    return UsageError(
        absl::StrCat(name, ": malformed JSON at offset ", d.GetErrorOffset(),
                     ": ", rapidjson::GetParseError_En(d.GetParseError())));
  }
  auto ops = d.IsObject() ? d.FindMember("ops") : d.MemberEnd();
  if (!d.IsObject() || ops == d.MemberEnd() || !ops->value.IsArray()) {
    return UsageError(absl::StrCat(name, ": want {\"ops\": [...]}"));
  }
  v1::BatchRequest req;
  for (rapidjson::SizeType i = 0; i < ops->value.Size(); ++i) {
    absl::Status s = ReadOp(ops->value[i], req.add_ops());
    if (!s.ok())
      return UsageError(absl::StrCat(name, ": ops[", i, "]: ", s.message()));
  }
  return req;
}

void PrintResults(Format format, const v1::BatchRequest& req,
                  const v1::BatchResponse& r) {
  if (format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) {
      w.StartObject();
      w.Key("results");
      w.StartArray();
      for (const v1::BatchResult& res : r.results()) {
        if (res.has_set()) {
          WritePutResult(w, res.set());
        } else {
          w.StartObject();
          w.Key("seq");
          w.Int64(res.delete_().seq());
          w.EndObject();
        }
      }
      w.EndArray();
      w.EndObject();
    }) << "\n";
    return;
  }
  Table t({"OP", "NAMESPACE", "KEY", "VERSION", "SEQ"});
  for (int i = 0; i < r.results_size() && i < req.ops_size(); ++i) {
    const v1::BatchOp& op = req.ops(i);
    const v1::BatchResult& res = r.results(i);
    if (op.has_set()) {
      t.AddRow({"set", op.set().namespace_(), op.set().key(),
                absl::StrCat(res.set().version()),
                absl::StrCat(res.set().seq())});
    } else {
      t.AddRow({"delete", op.delete_().namespace_(), op.delete_().key(), "-",
                absl::StrCat(res.delete_().seq())});
    }
  }
  t.Print(std::cout);
}

absl::Status Batch(Env& env, const Operands& a) {
  std::string path = a.empty() ? "-" : a[0];
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<v1::BatchRequest> req =
      ParseBatch(path == "-" ? "stdin" : path, *text);
  if (!req.ok()) return req.status();
  absl::StatusOr<v1::BatchResponse> r = env.client.Batch(*req);
  if (!r.ok()) return r.status();
  PrintResults(env.format, *req, *r);
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> BatchCommands() {
  return {{"batch",
           "[FILE]",
           "apply the ops of FILE (or stdin) atomically: "
           "{\"ops\":[{\"op\":\"set\"|\"delete\",\"namespace\",\"key\",...}]}",
           {},
           0,
           1,
           Batch}};
}

}  // namespace concordance::ctl
