// ReadyPipeline: how a node carries out the core's Ready — the one ordering
// that ships, with no threads and no clock, so that the node driver
// (concordance/node_driver.cc, with its threads) and the simulator
// (raft/sim/, with simulated events) run exactly the same steps:
//
//   Process()    sends a leader's appends at once, then handles the next
//                Ready unless one is in flight;
//   a Ready      sends its leader messages at once; hands what must become
//                durable (an installed snapshot, entries, hard state,
//                configuration) to the persist executor as one write;
//                meanwhile applies its committed entries (durable here
//                already, raft/node.h clause 4) — unless it installs a
//                snapshot, whose restore comes first;
//   once durable back on the loop: restores an installed snapshot and
//                applies what waited for it, sends the messages that
//                promise durable state, answers read states, Advance();
//   then         compacts the log when the core says one is due — the state
//                machine synced on the snapshot executor, the compaction
//                point (no image) recorded on the persist executor — or,
//                when the log store was asked for an image a lagging
//                follower needs, pins the state on the loop, serializes and
//                writes it on the snapshot executor and records it on the
//                persist executor. Group commit never waits for either.
//
// The host says where work runs (three serial executors: the loop that owns
// the Node and this pipeline, the persist thread that is raft.db's only
// writer, and the snapshot thread) and what each effect does. Every method
// here runs on the loop, except the tasks posted to the other executors.
#ifndef CONCORDANCE_RAFT_READY_PIPELINE_H_
#define CONCORDANCE_RAFT_READY_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/node.h"
#include "storage/log_store.h"

namespace concordance::raft {

class PipelineHost {
 public:
  virtual ~PipelineHost() = default;

  // ---- Executors: each runs its tasks one at a time, in posting order ----
  virtual void PostToLoop(std::function<void()> task) = 0;
  virtual void PostToPersist(std::function<void()> task) = 0;
  virtual void PostToSnapshot(std::function<void()> task) = 0;

  // ---- Effects on the loop ----
  virtual void Send(std::vector<Message> messages) = 0;
  // Applies committed entries (in order, each once) through the state
  // machine and answers what waited for them.
  virtual void Apply(const std::vector<LogEntry>& entries) = 0;
  // Replaces the state machine with an installed snapshot's image.
  virtual void Restore(const storage::Snapshot& snapshot) = 0;
  virtual void OnReadStates(const std::vector<ReadState>& states) = 0;
  virtual void OnSoftState(const SoftState& state) = 0;
  // After Advance(): what `rd` carried is in effect (configuration, commit).
  // Returns what to run once the pipeline has moved on (null: nothing).
  virtual std::function<void()> OnAdvanced(const Ready& rd) = 0;

  // ---- The persist executor ----
  // A Ready's write begins, and its state is durable (right after the
  // write): the two ends of one fsync, for its timing.
  virtual void OnPersistStarted() {}
  virtual void OnDurable(const Ready& rd) {}
  // A snapshot (with an image) or a compaction point (without) is recorded
  // and the log compacted through meta.index().
  virtual void OnSnapshotRecorded(const SnapshotMeta& meta) {}

  // ---- The state machine ----
  virtual uint64_t StateApplied() const = 0;
  // Makes everything applied durable (snapshot executor): a compaction point
  // without an image relies on it.
  virtual absl::Status SyncState() = 0;
  // Pins the state as of now (the loop is its only writer), to serialize on
  // the snapshot executor. Fails when the state is not at `index`.
  using Image = std::function<absl::StatusOr<std::string>()>;
  virtual absl::StatusOr<Image> PinState(uint64_t index) = 0;

  // A write Raft cannot go on without failed: the node must stop.
  virtual void Fatal(const std::string& what, const absl::Status& status) = 0;
  // A named crash point (see docs/reliability.md). True: the node died
  // here, do nothing more.
  virtual bool Failpoint(const char* name) { return false; }
};

class ReadyPipeline {
 public:
  // `node`, `log` and `host` outlive the pipeline.
  ReadyPipeline(Node* node, storage::LogStore* log, PipelineHost* host)
      : node_(node), log_(log), host_(host) {}

  // Sends a leader's appends now and handles the next Ready if none is in
  // flight. Call after anything that may have given the core work.
  void Process();
  // After a tick: Process(), and between Readies also the snapshot check —
  // a leader whose only output is heartbeats (sent without a Ready) must
  // still make an image a lagging follower waits for.
  void AfterTick();
  // No more snapshots or compactions are started.
  void Stop() { stopping_ = true; }

  bool ready_in_flight() const { return ready_in_flight_; }
  bool snapshot_in_flight() const { return snapshot_in_flight_; }

 private:
  void HandleReady();
  // Runs on the persist executor. False after a fatal error.
  bool Persist(const Ready& rd);
  void OnPersisted(std::shared_ptr<Ready> rd);
  void MaybeSnapshot();
  void CompactLog();
  void MakeSnapshotImage();
  // On the persist executor: records `meta` (an image or a compaction
  // point) and compacts the log; then the next snapshot may start.
  void RecordSnapshot(const SnapshotMeta& meta);
  void SnapshotDone() { snapshot_in_flight_ = false; }

  Node* node_;
  storage::LogStore* log_;
  PipelineHost* host_;
  bool ready_in_flight_ = false;
  bool snapshot_in_flight_ = false;
  bool stopping_ = false;
};

}  // namespace concordance::raft

#endif  // CONCORDANCE_RAFT_READY_PIPELINE_H_
