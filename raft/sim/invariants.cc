#include "raft/sim/invariants.h"

#include "absl/strings/str_cat.h"

namespace concordance::raft::sim {
namespace {

uint64_t HashEntry(const LogEntry& e) {
  return storage::SnapshotChecksum(absl::StrCat(e.type(), ":", e.data()));
}

}  // namespace

void InvariantChecker::Violation(std::string what) {
  if (violations_.size() < 20) violations_.push_back(std::move(what));
}

void InvariantChecker::OnBootstrap(const std::vector<LogEntry>& entries) {
  for (const LogEntry& e : entries) {
    committed_[e.index()] = {e.term(), HashEntry(e)};
    entries_[{e.index(), e.term()}] = HashEntry(e);
    max_committed_ = std::max(max_committed_, e.index());
  }
}

void InvariantChecker::CheckNode(const Node& node) {
  const std::string& id = node.id();
  // Election safety, and leader completeness for a newly elected leader.
  auto& last = last_role_[id];
  if (node.role() == Role::kLeader) {
    auto [it, added] = leaders_.emplace(node.term(), id);
    if (!added && it->second != id) {
      Violation(absl::StrCat("election safety: ", it->second, " and ", id,
                             " both lead term ", node.term()));
    }
    if (last.first != Role::kLeader || last.second != node.term()) {
      uint64_t first = node.log().FirstIndex();
      for (const auto& [index, te] : committed_) {
        if (index < first) continue;
        uint64_t t = node.log().TermOrZero(index);
        if (t != te.first) {
          Violation(absl::StrCat("leader completeness: ", id, " leads term ",
                                 node.term(), " but holds term ", t, " at committed index ",
                                 index, " (committed with term ", te.first, ")"));
          break;
        }
      }
      if (node.last_index() < max_committed_) {
        Violation(absl::StrCat("leader completeness: ", id, " leads term ", node.term(),
                               " with last index ", node.last_index(),
                               " below committed index ", max_committed_));
      }
    }
  }
  last = {node.role(), node.term()};
  // Commit: durability on a quorum, then stability.
  uint64_t& checked = checked_commit_[id];
  uint64_t commit = node.commit_index();
  if (commit > checked) {
    RecordCommitted(node, checked, commit);
    checked = commit;
  }
}

void InvariantChecker::RecordCommitted(const Node& node, uint64_t from, uint64_t to) {
  for (uint64_t i = std::max(from + 1, node.log().FirstIndex()); i <= to; ++i) {
    absl::StatusOr<std::vector<LogEntry>> e = node.log().Entries(i, i + 1, UINT64_MAX);
    if (!e.ok() || e->empty()) continue;  // compacted under us
    const LogEntry& entry = (*e)[0];
    uint64_t h = HashEntry(entry);
    auto it = committed_.find(i);
    if (it != committed_.end()) {
      if (it->second.first != entry.term() || it->second.second != h) {
        Violation(absl::StrCat("commit stability: ", node.id(), " commits index ", i,
                               " with term ", entry.term(), " but it was committed with term ",
                               it->second.first));
        return;
      }
      continue;
    }
    // First time anyone commits index i: this must be a leader, and a
    // quorum of its voters must hold the entry durably.
    if (node.role() != Role::kLeader) {
      Violation(absl::StrCat("commit: ", node.id(), " (not leader) is the first to commit ", i));
    }
    size_t holders = 0;
    const ConfState& conf = node.conf_state();
    for (const Member& m : conf.voters()) {
      const storage::MemoryLogStore* s = stores_(m.node_id());
      if (s == nullptr) continue;
      if (s->snapshot_meta().index() >= i) {
        ++holders;
        continue;
      }
      absl::StatusOr<uint64_t> t = s->Term(i);
      if (t.ok() && *t == entry.term()) ++holders;
    }
    if (holders < static_cast<size_t>(conf.voters_size() / 2 + 1)) {
      Violation(absl::StrCat("commit durability: ", node.id(), " committed index ", i,
                             " (term ", entry.term(), ") held durably by only ", holders,
                             " of ", conf.voters_size(), " voters"));
    }
    committed_[i] = {entry.term(), h};
    max_committed_ = std::max(max_committed_, i);
  }
}

void InvariantChecker::OnPersist(const std::string& id, const std::vector<LogEntry>& entries) {
  for (const LogEntry& e : entries) {
    uint64_t h = HashEntry(e);
    auto [it, added] = entries_.emplace(std::make_pair(e.index(), e.term()), h);
    if (!added && it->second != h) {
      Violation(absl::StrCat("log matching: ", id, " holds a different entry at index ",
                             e.index(), " term ", e.term(), " than another node"));
    }
    // (A follower that has not yet heard of a newer term may still append
    // a stale leader's entry at an index committed elsewhere: legal, as long
    // as it never commits it. CheckNode checks what each node commits.)
  }
}

void InvariantChecker::OnApply(const std::string& id, const LogEntry& e, uint64_t state_hash) {
  // The driver applies while its fsync runs: only entries already durable
  // in this node's own log may be applied (raft/node.h, clause 4).
  if (const storage::MemoryLogStore* store = stores_(id)) {
    absl::StatusOr<uint64_t> term = store->Term(e.index());
    bool durable = e.index() <= store->snapshot_meta().index() || (term.ok() && *term == e.term());
    if (!durable) {
      Violation(absl::StrCat("durability before apply: ", id, " applied index ", e.index(),
                             " (term ", e.term(), ") before it was durable in its own log (",
                             term.ok() ? absl::StrCat("which holds term ", *term, " there")
                                       : std::string("which does not reach it"),
                             ")"));
    }
  }
  auto [it, added] = applied_.emplace(e.index(), std::make_pair(e.term(), state_hash));
  if (!added && (it->second.first != e.term() || it->second.second != state_hash)) {
    Violation(absl::StrCat("state machine safety: ", id, " applied term ", e.term(),
                           " at index ", e.index(), " reaching state ", state_hash,
                           "; another node applied term ", it->second.first, " reaching ",
                           it->second.second));
  }
  auto c = committed_.find(e.index());
  if (c == committed_.end() && e.index() > max_committed_) {
    Violation(absl::StrCat("state machine safety: ", id, " applied index ", e.index(),
                           " before anyone committed it"));
  }
}

void InvariantChecker::OnRestore(const std::string& id, uint64_t index, uint64_t state_hash) {
  auto it = applied_.find(index);
  if (it != applied_.end() && it->second.second != state_hash) {
    Violation(absl::StrCat("state machine safety: ", id, " restored a snapshot at index ",
                           index, " whose state differs from what others applied"));
  }
}

void InvariantChecker::OnReadStart(const std::string& id, uint64_t request_id) {
  read_bounds_[{id, request_id}] = max_committed_;
}

void InvariantChecker::OnReadState(const std::string& id, const ReadState& r) {
  auto it = read_bounds_.find({id, r.request_id});
  if (it == read_bounds_.end()) return;
  uint64_t bound = it->second;
  read_bounds_.erase(it);
  if (r.ok && r.index < bound) {
    Violation(absl::StrCat("read linearizability: ", id, " read ", r.request_id,
                           " answered at index ", r.index, " but index ", bound,
                           " was committed before the read began"));
  }
}

void InvariantChecker::CheckLogMatching(const std::vector<std::string>& ids) {
  for (size_t a = 0; a < ids.size(); ++a) {
    for (size_t b = a + 1; b < ids.size(); ++b) {
      const storage::MemoryLogStore* sa = stores_(ids[a]);
      const storage::MemoryLogStore* sb = stores_(ids[b]);
      if (sa == nullptr || sb == nullptr) continue;
      uint64_t lo = std::max(sa->FirstIndex(), sb->FirstIndex());
      uint64_t hi = std::min(sa->LastIndex(), sb->LastIndex());
      // The highest index where both hold the same term...
      uint64_t match = 0;
      for (uint64_t i = hi; i >= lo && i > 0; --i) {
        if (*sa->Term(i) == *sb->Term(i)) {
          match = i;
          break;
        }
      }
      if (match == 0) continue;
      // ...and every entry up to it must be identical.
      std::vector<LogEntry> ea, eb;
      if (!sa->Entries(lo, match + 1, UINT64_MAX, &ea).ok() ||
          !sb->Entries(lo, match + 1, UINT64_MAX, &eb).ok()) {
        continue;
      }
      for (size_t i = 0; i < ea.size() && i < eb.size(); ++i) {
        if (ea[i].term() != eb[i].term() || HashEntry(ea[i]) != HashEntry(eb[i])) {
          Violation(absl::StrCat("log matching: ", ids[a], " and ", ids[b], " agree at index ",
                                 match, " but differ at index ", ea[i].index()));
          return;
        }
      }
    }
  }
}

}  // namespace concordance::raft::sim
