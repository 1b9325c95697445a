// Progress: what a leader knows about one member's log, and how it paces
// replication to it (etcd-io/raft's progress tracker, simplified).
//
//   kProbe      the follower's log position is unknown: send one append at
//               a time and wait for its answer (or the next heartbeat).
//   kReplicate  the follower is keeping up: pipeline appends optimistically,
//               at most max_inflight unacknowledged.
//   kSnapshot   the entries it needs are compacted: stream it a snapshot in
//               chunks; no appends until it answers with the snapshot index.
#ifndef CONCORDANCE_RAFT_PROGRESS_H_
#define CONCORDANCE_RAFT_PROGRESS_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "proto/raft.pb.h"

namespace concordance::raft {

struct Progress {
  enum class State { kProbe, kReplicate, kSnapshot };

  uint64_t match = 0;  // highest index known replicated there
  uint64_t next = 1;   // next index to send
  State state = State::kProbe;
  bool probe_sent = false;        // kProbe: an append is outstanding
  std::deque<uint64_t> inflight;  // kReplicate: last index of each append
  bool recent_active = false;     // heard from since the last quorum check
  uint64_t read_round_acked = 0;  // newest ReadIndex round it confirmed

  // kSnapshot: the snapshot being streamed and how far it got.
  SnapshotMeta snapshot_meta;
  std::shared_ptr<const std::string> snapshot_data;
  uint64_t snapshot_acked = 0;  // bytes the follower confirmed
  uint64_t snapshot_sent = 0;   // bytes sent so far
  int snapshot_idle_ticks = 0;  // ticks since the last chunk answer

  // Raises match (and next with it); false when `index` is not news.
  bool MaybeUpdate(uint64_t index) {
    bool updated = index > match;
    if (updated) match = index;
    if (next < index + 1) next = index + 1;
    return updated;
  }

  void BecomeProbe() {
    // After a snapshot, continue right after it.
    if (state == State::kSnapshot) {
      next = std::max(match + 1, snapshot_meta.index() + 1);
    } else {
      next = match + 1;
    }
    state = State::kProbe;
    ResetFlow();
  }

  void BecomeReplicate() {
    state = State::kReplicate;
    next = match + 1;
    ResetFlow();
  }

  void BecomeSnapshot(const SnapshotMeta& meta,
                      std::shared_ptr<const std::string> data) {
    state = State::kSnapshot;
    ResetFlow();
    snapshot_meta = meta;
    snapshot_data = std::move(data);
  }

  // Records an append ending at `last` as sent.
  void SentAppend(uint64_t last, bool had_entries) {
    if (state == State::kReplicate) {
      if (had_entries) {
        next = last + 1;
        inflight.push_back(last);
      }
    } else if (state == State::kProbe) {
      probe_sent = true;
    }
  }

  // Drops in-flight appends acknowledged up to `index`.
  void FreeInflightTo(uint64_t index) {
    while (!inflight.empty() && inflight.front() <= index) inflight.pop_front();
  }

  bool Paused(int max_inflight) const {
    switch (state) {
      case State::kProbe:
        return probe_sent;
      case State::kReplicate:
        return static_cast<int>(inflight.size()) >= max_inflight;
      case State::kSnapshot:
        return true;
    }
    return true;
  }

 private:
  void ResetFlow() {
    probe_sent = false;
    inflight.clear();
    snapshot_data.reset();
    snapshot_meta.Clear();
    snapshot_acked = snapshot_sent = 0;
    snapshot_idle_ticks = 0;
  }
};

}  // namespace concordance::raft

#endif  // CONCORDANCE_RAFT_PROGRESS_H_
