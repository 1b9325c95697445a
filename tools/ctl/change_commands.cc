// watch and changes: a tenant's or a namespace's changes, one line (or one
// JSON object) each, flushed as they come.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "tools/ctl/command.h"
#include "tools/ctl/errors.h"
#include "tools/ctl/flags.h"
#include "tools/ctl/records.h"
#include "tools/ctl/signals.h"

namespace concordance::ctl {
namespace {

// Exactly one of --namespace and --tenant, as a request's target.
template <typename Request>
absl::Status SetTarget(const Args& args, Request* req) {
  bool ns = args.Given("namespace"), tenant = args.Given("tenant");
  if (ns == tenant) return UsageError("give --namespace=NS or --tenant=T");
  if (ns) {
    req->set_namespace_(FLAGS_namespace);
  } else {
    req->set_tenant(FLAGS_tenant);
  }
  return absl::OkStatus();
}

std::string TargetName(const Args& args) {
  return args.Given("namespace") ? "namespace " + FLAGS_namespace
                                 : "tenant " + FLAGS_tenant;
}

void PrintChange(Format format, const v1::ChangeEvent& e) {
  if (format == Format::kJson) {
    std::cout << Json([&](JsonWriter& w) { WriteChange(w, e); });
  } else {
    std::cout << ChangeLine(e);
  }
  std::cout << std::endl;  // flushed: a reader sees it now
}

// Counts printed changes against --max-events.
struct Budget {
  int64_t printed = 0;
  bool Spent() const {
    return FLAGS_max_events > 0 && printed >= FLAGS_max_events;
  }
};

absl::Status Watch(Env& env, const Operands&) {
  v1::WatchRequest req;
  absl::Status s = SetTarget(env.args, &req);
  if (!s.ok()) return s;
  if (env.args.Given("from_seq")) req.set_from_seq(FLAGS_from_seq);
  ExitOnInterrupt();
  std::unique_ptr<client::Watcher> watcher = env.client.Watch(req);
  v1::WatchResponse r;
  s = watcher->Next(&r);  // the start: subscribed from here on
  if (!s.ok()) return s;
  int64_t after = req.has_from_seq() ? req.from_seq() : r.seq();
  std::cerr << "watching " << TargetName(env.args) << " after seq " << after
            << std::endl;
  for (Budget budget; !budget.Spent();) {
    s = watcher->Next(&r);
    if (!s.ok()) return s;
    for (int i = 0; i < r.events_size() && !budget.Spent();
         ++i, ++budget.printed) {
      PrintChange(env.format, r.events(i));
    }
  }
  return absl::OkStatus();
}

void PrintPage(const v1::ChangesResponse& page) {
  std::cout << Json([&](JsonWriter& w) {
    w.StartObject();
    w.Key("changes");
    w.StartArray();
    for (const v1::ChangeEvent& e : page.changes()) WriteChange(w, e);
    w.EndArray();
    w.Key("nextSeq");
    w.Int64(page.next_seq());
    w.Key("oldestSeq");
    w.Int64(page.oldest_seq());
    w.EndObject();
  }) << "\n";
}

// Where the changes of `changes` go: printed as they come, or (-o json
// without --follow) gathered into one answer shaped as the REST API's.
// The next seq is what to pass as --since to continue.
class ChangeOutput {
 public:
  explicit ChangeOutput(Format format)
      : format_(format), gather_(format == Format::kJson && !FLAGS_follow) {}

  // Takes a page's changes up to --max-events; false once that many are.
  bool Take(const v1::ChangesResponse& page) {
    for (const v1::ChangeEvent& e : page.changes()) {
      if (budget_.Spent()) return false;
      if (gather_) {
        *all_.add_changes() = e;
      } else {
        PrintChange(format_, e);
      }
      ++budget_.printed;
      all_.set_next_seq(e.seq());
    }
    all_.set_oldest_seq(page.oldest_seq());
    if (budget_.Spent()) return false;
    all_.set_next_seq(page.next_seq());
    return true;
  }

  void Finish() const {
    if (gather_) {
      PrintPage(all_);
    } else if (!FLAGS_follow) {
      std::cerr << "next seq " << all_.next_seq() << std::endl;
    }
  }

 private:
  const Format format_;
  const bool gather_;
  Budget budget_;
  v1::ChangesResponse all_;
};

absl::Status Changes(Env& env, const Operands&) {
  v1::ChangesRequest req;
  absl::Status s = SetTarget(env.args, &req);
  if (!s.ok()) return s;
  req.set_since(FLAGS_since);
  req.set_limit(FLAGS_page_size);
  if (FLAGS_follow) {
    ExitOnInterrupt();
    req.set_wait_ms(30000);  // a long-poll, answered at once when not idle
  }
  ChangeOutput out(env.format);
  for (;;) {
    absl::StatusOr<v1::ChangesResponse> page = env.client.Changes(req);
    if (!page.ok()) return page.status();
    if (!out.Take(*page)) break;
    // Up to date: a short page is the last one (on a busy namespace pages
    // would never be empty).
    if (page->changes_size() < FLAGS_page_size && !FLAGS_follow) break;
    req.set_since(page->next_seq());
  }
  out.Finish();
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> ChangeCommands() {
  return {
      {"watch",
       "--namespace=NS|--tenant=T",
       "print each change as it is applied (until Ctrl-C)",
       {"namespace", "tenant", "from_seq", "max_events"},
       0,
       0,
       Watch},
      {"changes",
       "--namespace=NS|--tenant=T",
       "print the changelog after --since (--follow: then wait for more)",
       {"namespace", "tenant", "since", "follow", "max_events", "page_size"},
       0,
       0,
       Changes},
  };
}

}  // namespace concordance::ctl
