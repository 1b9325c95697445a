#include "raft/ready_pipeline.h"

#include <utility>

#include "glog/logging.h"

namespace concordance::raft {

void ReadyPipeline::Process() {
  std::vector<Message> msgs = node_->TakeLeaderMessages();
  if (!msgs.empty()) host_->Send(std::move(msgs));
  HandleReady();
}

void ReadyPipeline::AfterTick() {
  Process();
  // Between Readies the applied index of the core and of the state agree.
  if (!ready_in_flight_) MaybeSnapshot();
}

void ReadyPipeline::HandleReady() {
  if (ready_in_flight_ || !node_->HasReady()) return;
  auto rd = std::make_shared<Ready>(node_->GetReady());
  ready_in_flight_ = true;
  // 1. A leader's appends may leave before anything here is durable.
  if (!rd->leader_messages.empty()) host_->Send(std::move(rd->leader_messages));
  if (rd->soft_state) host_->OnSoftState(*rd->soft_state);
  // 2. One durable write, on the persist executor.
  bool persist =
      rd->snapshot || rd->must_sync || !rd->entries.empty() || rd->conf_state;
  if (persist) {
    host_->PostToPersist([this, rd] {
      if (!Persist(*rd)) return;
      if (host_->Failpoint("raft-save-after-commit")) return;
      host_->PostToLoop([this, rd] { OnPersisted(rd); });
    });
  }
  // 4. Committed entries are durable already: apply them while the write
  // runs (after a snapshot install they wait for its restore).
  if (!rd->snapshot && !rd->committed_entries.empty())
    host_->Apply(rd->committed_entries);
  if (!persist) OnPersisted(rd);
}

bool ReadyPipeline::Persist(const Ready& rd) {
  host_->OnPersistStarted();
  if (rd.snapshot) {
    absl::Status s = log_->InstallSnapshot(*rd.snapshot);
    if (!s.ok()) {
      host_->Fatal("cannot install a snapshot in the log store", s);
      return false;
    }
  }
  if (rd.hard_state || !rd.entries.empty() || rd.conf_state) {
    absl::Status s =
        log_->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                   rd.conf_state ? &*rd.conf_state : nullptr);
    // Raft cannot continue safely without durability.
    if (!s.ok()) {
      host_->Fatal("cannot write the log store", s);
      return false;
    }
  }
  host_->OnDurable(rd);
  return true;
}

void ReadyPipeline::OnPersisted(std::shared_ptr<Ready> rd) {
  if (rd->snapshot) {
    if (host_->Failpoint("snapshot-install-before-restore")) return;
    host_->Restore(*rd->snapshot);
    if (!rd->committed_entries.empty()) host_->Apply(rd->committed_entries);
  }
  // 3. Messages that promise durable state.
  if (!rd->messages.empty()) host_->Send(std::move(rd->messages));
  if (!rd->read_states.empty()) host_->OnReadStates(rd->read_states);
  // 5.
  node_->Advance();
  std::function<void()> after = host_->OnAdvanced(*rd);
  ready_in_flight_ = false;
  MaybeSnapshot();
  Process();
  if (after) after();
}

void ReadyPipeline::MaybeSnapshot() {
  if (snapshot_in_flight_ || stopping_) return;
  // A lagging follower needs an image: make one. Otherwise compact the log
  // once enough has been applied since the last compaction point; that
  // needs no image (see storage/log_store.h).
  if (log_->ImageWanted()) {
    MakeSnapshotImage();
  } else if (node_->SnapshotDue()) {
    CompactLog();
  }
}

void ReadyPipeline::CompactLog() {
  // Everything up to the applied index is in the state machine (the loop
  // applies before it advances); make it durable on the snapshot executor,
  // then record the compaction point and delete the entries on the persist
  // executor. Neither waits on the loop or holds up group commit.
  SnapshotMeta meta = node_->SnapshotMetaAtApplied();
  if (host_->StateApplied() < meta.index()) {
    LOG(ERROR) << "the state machine is at " << host_->StateApplied()
               << ", behind the applied index " << meta.index()
               << "; not compacting";
    return;
  }
  snapshot_in_flight_ = true;
  host_->PostToSnapshot([this, meta] {
    absl::Status s = host_->SyncState();
    if (!s.ok()) {
      LOG(ERROR)
          << "cannot make the state machine durable; the log is not compacted: "
          << s;
      return host_->PostToLoop([this] { SnapshotDone(); });
    }
    if (host_->Failpoint("compact-after-state-sync")) return;
    RecordSnapshot(meta);
  });
}

void ReadyPipeline::MakeSnapshotImage() {
  // Pin the state as of this instant (exactly the applied index), then do
  // the slow parts elsewhere: serialize and write the image on the snapshot
  // executor, record it and compact the log on the persist executor.
  SnapshotMeta meta = node_->SnapshotMetaAtApplied();
  absl::StatusOr<PipelineHost::Image> image = host_->PinState(meta.index());
  if (!image.ok()) {
    LOG(ERROR) << "cannot pin the state for a snapshot at " << meta.index()
               << ": " << image.status();
    return;
  }
  snapshot_in_flight_ = true;
  host_->PostToSnapshot([this, meta, image = std::move(*image)]() mutable {
    absl::StatusOr<std::string> data = image();
    image = nullptr;  // release the pinned state at once
    storage::Snapshot snap;
    snap.meta = meta;
    absl::Status s = data.status();
    if (s.ok()) {
      snap.meta.set_size(data->size());
      snap.meta.set_checksum(storage::SnapshotChecksum(*data));
      snap.data = std::make_shared<const std::string>(std::move(*data));
      s = log_->WriteSnapshotImage(snap);
    }
    if (!s.ok()) {
      LOG(ERROR) << "snapshot at " << meta.index() << " failed: " << s;
      return host_->PostToLoop([this] { SnapshotDone(); });
    }
    if (host_->Failpoint("snapshot-after-image-write")) return;
    RecordSnapshot(snap.meta);
  });
}

void ReadyPipeline::RecordSnapshot(const SnapshotMeta& meta) {
  host_->PostToPersist([this, meta] {
    absl::Status s = log_->CommitSnapshot(meta);
    if (s.ok()) {
      host_->OnSnapshotRecorded(meta);
    } else {
      LOG(WARNING) << (storage::LogStore::HasImage(meta) ? "snapshot"
                                                         : "log compaction")
                   << " at " << meta.index() << " not recorded: " << s;
    }
    host_->PostToLoop([this] { SnapshotDone(); });
  });
}

}  // namespace concordance::raft
