// get, put, del, ls: the KV service, one call each (ls pages through).
#include <iostream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tools/ctl/command.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/flags.h"
#include "tools/ctl/input.h"
#include "tools/ctl/records.h"
#include "tools/ctl/table.h"

namespace concordance::ctl {
namespace {

v1::Consistency ReadConsistency() {
  return FLAGS_linearizable ? v1::LINEARIZABLE : v1::LOCAL;
}

void PrintEntry(const v1::Entry& e) {
  Table t;
  t.AddRow({"namespace", e.namespace_()});
  t.AddRow({"key", e.key()});
  t.AddRow({"value", e.value()});
  t.AddRow({"version", absl::StrCat(e.version())});
  t.AddRow({"updated by", e.updated_by()});
  t.AddRow({"updated at", Time(e.updated_at())});
  t.AddRow({"expires at", Time(e.expires_at())});
  if (!e.error().empty()) t.AddRow({"error", e.error()});
  t.Print(std::cout);
}

absl::Status Get(Env& env, const Operands& a) {
  v1::GetRequest req;
  req.set_namespace_(a[0]);
  req.set_key(a[1]);
  req.set_consistency(ReadConsistency());
  absl::StatusOr<v1::Entry> e = env.client.Get(req);
  if (!e.ok()) return e.status();
  if (env.format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) { WriteEntry(w, *e); }) << "\n";
  } else {
    PrintEntry(*e);
  }
  return absl::OkStatus();
}

// VALUE as JSON text ("-": read from stdin).
absl::StatusOr<std::string> Value(const std::string& operand) {
  if (operand != "-") return operand;
  absl::StatusOr<std::string> text = ReadInput("-");
  if (!text.ok()) return text.status();
  return std::string(absl::StripAsciiWhitespace(*text));
}

absl::Status FillPut(const Env& env, const Operands& a, v1::PutRequest* req) {
  req->set_namespace_(a[0]);
  req->set_key(a[1]);
  absl::StatusOr<std::string> value = Value(a[2]);
  if (!value.ok()) return value.status();
  req->set_value(*value);
  if (env.args.Given("expected_version")) {
    req->set_expected_version(FLAGS_expected_version);
  }
  if (env.args.Given("ttl")) {
    if (FLAGS_ttl <= 0 ||
        FLAGS_ttl > std::numeric_limits<int64_t>::max() / 1000) {
      return UsageError("--ttl wants a positive number of seconds");
    }
    req->set_ttl_ms(FLAGS_ttl * 1000);
  }
  return absl::OkStatus();
}

absl::Status Put(Env& env, const Operands& a) {
  v1::PutRequest req;
  absl::Status s = FillPut(env, a, &req);
  if (!s.ok()) return s;
  absl::StatusOr<v1::PutResponse> r = env.client.Put(req);
  if (!r.ok()) return r.status();
  if (env.format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) { WritePutResult(w, *r); }) << "\n";
    return absl::OkStatus();
  }
  Table t;
  t.AddRow({"version", absl::StrCat(r->version())});
  t.AddRow({"seq", absl::StrCat(r->seq())});
  t.AddRow({"updated at", Time(r->updated_at())});
  t.AddRow({"expires at", Time(r->expires_at())});
  t.Print(std::cout);
  return absl::OkStatus();
}

absl::Status Del(Env& env, const Operands& a) {
  v1::DeleteRequest req;
  req.set_namespace_(a[0]);
  req.set_key(a[1]);
  if (env.args.Given("expected_version")) {
    req.set_expected_version(FLAGS_expected_version);
  }
  absl::StatusOr<v1::DeleteResponse> r = env.client.Delete(req);
  if (!r.ok()) return r.status();
  if (env.format == Format::kJson) {
    std::cout << "{\"seq\":" << r->seq() << "}\n";
  } else {
    std::cout << "seq  " << r->seq() << "\n";
  }
  return absl::OkStatus();
}

// Every live entry of NS (under PREFIX), page after page.
absl::StatusOr<std::vector<v1::Entry>> ListAll(client::Client& c,
                                               const Operands& a) {
  v1::ListRequest req;
  req.set_namespace_(a[0]);
  if (a.size() > 1) req.set_prefix(a[1]);
  req.set_limit(FLAGS_page_size);
  req.set_consistency(ReadConsistency());
  std::vector<v1::Entry> out;
  for (;;) {
    absl::StatusOr<v1::ListResponse> page = c.List(req);
    if (!page.ok()) return page.status();
    for (v1::Entry& e : *page->mutable_entries()) out.push_back(std::move(e));
    if (page->next().empty()) return out;
    req.set_after(page->next());
  }
}

void PrintEntries(Format format, const std::vector<v1::Entry>& entries) {
  if (format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) {
      w.StartObject();
      w.Key("entries");
      w.StartArray();
      for (const v1::Entry& e : entries) WriteEntry(w, e);
      w.EndArray();
      w.EndObject();
    }) << "\n";
    return;
  }
  Table t(
      {"KEY", "VERSION", "UPDATED BY", "UPDATED AT", "EXPIRES AT", "VALUE"});
  for (const v1::Entry& e : entries) {
    t.AddRow({e.key(), absl::StrCat(e.version()), e.updated_by(),
              Time(e.updated_at()), Time(e.expires_at()),
              e.error().empty() ? e.value() : "(" + e.error() + ")"});
  }
  t.Print(std::cout);
}

absl::Status Ls(Env& env, const Operands& a) {
  absl::StatusOr<std::vector<v1::Entry>> entries = ListAll(env.client, a);
  if (!entries.ok()) return entries.status();
  PrintEntries(env.format, *entries);
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> KvCommands() {
  return {
      {"get", "NS KEY", "print one entry", {"linearizable"}, 2, 2, Get},
      {"put",
       "NS KEY VALUE",
       "write VALUE (JSON text; - reads it from stdin)",
       {"ttl", "expected_version"},
       3,
       3,
       Put},
      {"del", "NS KEY", "delete a key", {"expected_version"}, 2, 2, Del},
      {"ls",
       "NS [PREFIX]",
       "list every live entry of NS (under PREFIX)",
       {"page_size", "linearizable"},
       1,
       2,
       Ls},
  };
}

}  // namespace concordance::ctl
