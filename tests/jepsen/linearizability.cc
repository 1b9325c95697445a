#include "tests/jepsen/linearizability.h"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace concordance::jepsen {
namespace {

struct State {
  bool exists = false;
  std::string value;
  int64_t version = 0;
};

// The state after `op` from `s`, or nullopt when `op`'s answer cannot
// follow from `s`. An indeterminate op is applied as it would have been.
std::optional<State> Step(const State& s, const Operation& op) {
  switch (op.kind) {
    case OpKind::kGet:
      if (op.outcome == Outcome::kNotFound) return s.exists ? std::nullopt : std::optional<State>(s);
      if (op.outcome == Outcome::kOk && s.exists && s.value == op.read_value && s.version == op.version) return s;
      return std::nullopt;
    case OpKind::kPut: {
      bool guard_fails = op.expected_version && *op.expected_version != s.version;
      if (op.outcome == Outcome::kConflict) return guard_fails ? std::optional<State>(s) : std::nullopt;
      if (guard_fails) return std::nullopt;  // an ok (or unanswered) put that could not have applied here
      State next{true, op.value, s.version + 1};
      if (op.outcome == Outcome::kOk && op.version != next.version) return std::nullopt;
      return next;
    }
    case OpKind::kDelete: {
      bool guard_fails = op.expected_version && *op.expected_version != s.version;
      if (op.outcome == Outcome::kConflict) return guard_fails ? std::optional<State>(s) : std::nullopt;
      if (guard_fails) return std::nullopt;
      if (op.outcome == Outcome::kNotFound) return s.exists ? std::nullopt : std::optional<State>(s);
      if (!s.exists) return std::nullopt;  // ok (or unanswered) delete of a present key
      return State{};
    }
  }
  return std::nullopt;
}

// The search over one key's operations. Entries form a doubly linked list
// of calls and returns in time order; linearizing an op lifts its call and
// return out of the list, backtracking puts them back.
class Search {
 public:
  Search(std::vector<Operation> ops, uint64_t max_steps) : ops_(std::move(ops)), max_steps_(max_steps) {
    Build();
  }

  Verdict Run();

 private:
  struct Entry {
    int op;
    bool is_call;
    int64_t time;
    int match = -1;  // the call's return entry (-1 for indeterminate ops)
    int prev = -1, next = -1;
  };

  void Build();
  void Lift(int call);
  void Unlift(int call);
  std::string CacheKey(const State& s) const;

  std::vector<Operation> ops_;
  uint64_t max_steps_;
  std::vector<Entry> entries_;  // [0] is the head sentinel
  std::vector<bool> linearized_;
  int determinate_ = 0;
};

void Search::Build() {
  entries_.push_back({-1, false, std::numeric_limits<int64_t>::min()});
  std::vector<int> order;
  for (int i = 0; i < static_cast<int>(ops_.size()); ++i) {
    entries_.push_back({i, true, ops_[i].call_ns});
    if (ops_[i].outcome != Outcome::kIndeterminate) {
      entries_.back().match = static_cast<int>(entries_.size());
      entries_.push_back({i, false, ops_[i].return_ns});
      ++determinate_;
    }
  }
  for (int i = 1; i < static_cast<int>(entries_.size()); ++i) order.push_back(i);
  // Time order; at equal times calls first (the ops overlap).
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (entries_[a].time != entries_[b].time) return entries_[a].time < entries_[b].time;
    return entries_[a].is_call && !entries_[b].is_call;
  });
  int prev = 0;
  for (int e : order) {
    entries_[prev].next = e;
    entries_[e].prev = prev;
    prev = e;
  }
  linearized_.assign(ops_.size(), false);
}

void Search::Lift(int call) {
  Entry& c = entries_[call];
  entries_[c.prev].next = c.next;
  if (c.next != -1) entries_[c.next].prev = c.prev;
  if (c.match != -1) {
    Entry& r = entries_[c.match];
    entries_[r.prev].next = r.next;
    if (r.next != -1) entries_[r.next].prev = r.prev;
  }
}

void Search::Unlift(int call) {
  Entry& c = entries_[call];
  if (c.match != -1) {
    Entry& r = entries_[c.match];
    entries_[r.prev].next = c.match;
    if (r.next != -1) entries_[r.next].prev = c.match;
  }
  entries_[c.prev].next = call;
  if (c.next != -1) entries_[c.next].prev = call;
}

std::string Search::CacheKey(const State& s) const {
  std::string key;
  key.reserve(ops_.size() / 8 + s.value.size() + 16);
  uint8_t byte = 0;
  for (size_t i = 0; i < linearized_.size(); ++i) {
    if (linearized_[i]) byte |= 1 << (i % 8);
    if (i % 8 == 7) {
      key.push_back(static_cast<char>(byte));
      byte = 0;
    }
  }
  key.push_back(static_cast<char>(byte));
  absl::StrAppend(&key, "|", s.exists ? 1 : 0, "|", s.version, "|", s.value);
  return key;
}

Verdict Search::Run() {
  Verdict v;
  v.operations = ops_.size();
  std::unordered_set<std::string> cache;
  std::vector<std::pair<int, State>> stack;  // linearized calls, the state before each
  State state;
  int done = 0;  // determinate ops linearized
  // For the explanation: the longest linearization found, and the first
  // operation that could not follow it.
  std::vector<int> deepest;
  int misfit = -1;
  uint64_t steps = 0;
  int e = entries_[0].next;
  while (done < determinate_) {
    if (++steps > max_steps_) {
      v.complete = false;
      return v;
    }
    if (e != -1 && entries_[e].is_call) {
      const Operation& op = ops_[entries_[e].op];
      std::optional<State> next = Step(state, op);
      if (next) {
        linearized_[entries_[e].op] = true;
        if (cache.insert(CacheKey(*next)).second) {
          stack.emplace_back(e, state);
          state = *std::move(next);
          if (op.outcome != Outcome::kIndeterminate) ++done;
          Lift(e);
          if (stack.size() > deepest.size()) {
            deepest.clear();
            for (const auto& [call, unused] : stack) deepest.push_back(entries_[call].op);
            misfit = -1;
          }
          e = entries_[0].next;
          continue;
        }
        linearized_[entries_[e].op] = false;
      } else if (stack.size() == deepest.size() && misfit == -1) {
        misfit = entries_[e].op;
      }
      e = entries_[e].next;
      continue;
    }
    // A return whose op is not linearized (or the end of the list): undo
    // the last choice.
    if (stack.empty()) {
      v.linearizable = false;
      std::string after = deepest.empty() ? "the start" : Describe(ops_[deepest.back()]);
      v.explanation = absl::StrCat("no order of the ", ops_.size(), " operations is linearizable; the longest ",
                                   "linearization (", deepest.size(), " operations) ends with ", after);
      if (misfit >= 0) absl::StrAppend(&v.explanation, ", and then ", Describe(ops_[misfit]), " cannot follow");
      return v;
    }
    auto [call, before] = stack.back();
    stack.pop_back();
    if (ops_[entries_[call].op].outcome != Outcome::kIndeterminate) --done;
    linearized_[entries_[call].op] = false;
    state = before;
    Unlift(call);
    e = entries_[call].next;
  }
  return v;
}

const char* KindName(OpKind k) {
  switch (k) {
    case OpKind::kGet: return "get";
    case OpKind::kPut: return "put";
    case OpKind::kDelete: return "delete";
  }
  return "?";
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kNotFound: return "not found";
    case Outcome::kConflict: return "conflict";
    case Outcome::kIndeterminate: return "no answer";
  }
  return "?";
}

}  // namespace

std::string Describe(const Operation& op) {
  std::string s = absl::StrCat("client ", op.client, " ", KindName(op.kind), " ", op.key);
  if (op.kind == OpKind::kPut) absl::StrAppend(&s, " = ", op.value);
  if (op.expected_version) absl::StrAppend(&s, " if version ", *op.expected_version);
  absl::StrAppend(&s, " -> ", OutcomeName(op.outcome));
  if (op.outcome == Outcome::kOk && op.kind == OpKind::kGet) {
    absl::StrAppend(&s, " ", op.read_value, " v", op.version);
  } else if (op.outcome == Outcome::kOk && op.kind == OpKind::kPut) {
    absl::StrAppend(&s, " v", op.version);
  }
  absl::StrAppend(&s, " [", op.call_ns, ", ");
  if (op.outcome == Outcome::kIndeterminate) {
    s += "?]";
  } else {
    absl::StrAppend(&s, op.return_ns, "]");
  }
  return s;
}

Verdict CheckLinearizable(const std::vector<Operation>& history, uint64_t max_steps_per_key) {
  std::map<std::string, std::vector<Operation>> by_key;
  for (const Operation& op : history) {
    if (op.kind == OpKind::kGet && op.outcome == Outcome::kIndeterminate) continue;
    by_key[op.key].push_back(op);
  }
  Verdict all;
  for (auto& [key, ops] : by_key) {
    all.operations += ops.size();
    Verdict v = Search(std::move(ops), max_steps_per_key).Run();
    if (!v.linearizable || !v.complete) {
      v.key = key;
      v.operations = all.operations;
      return v;
    }
  }
  return all;
}

}  // namespace concordance::jepsen
