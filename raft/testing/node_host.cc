#include "raft/testing/node_host.h"

#include "glog/logging.h"

namespace concordance::raft::testing {

NodeHost::NodeHost(Config config)
    : config_(std::move(config)),
      store_(std::make_unique<storage::MemoryLogStore>()) {}

void NodeHost::Start() {
  // A state machine behind the snapshot (lost state.db) is rebuilt from it.
  absl::StatusOr<storage::Snapshot> snap = store_->LoadSnapshot();
  CHECK(snap.ok());
  if (sm_.applied_index() < snap->meta.index()) {
    CHECK(sm_.Restore(*snap->data)) << "unreadable snapshot";
  }
  Config c = config_;
  c.applied = sm_.applied_index();
  node_ = std::make_unique<Node>(c, store_.get());
}

bool NodeHost::HandleReady(std::vector<Message>* out) {
  if (!node_ || !node_->HasReady()) return false;
  Ready rd = node_->GetReady();
  // 1. Leader messages may leave before anything is durable.
  for (Message& m : rd.leader_messages) out->push_back(std::move(m));
  // 2. Persist.
  if (rd.snapshot) {
    CHECK(store_->InstallSnapshot(*rd.snapshot).ok());
    CHECK(sm_.Restore(*rd.snapshot->data)) << "unreadable snapshot";
  }
  if (rd.must_sync || rd.hard_state || rd.conf_state || !rd.entries.empty()) {
    absl::Status s = store_->Save(rd.hard_state ? &*rd.hard_state : nullptr,
                                  rd.entries,
                                  rd.conf_state ? &*rd.conf_state : nullptr);
    CHECK(s.ok()) << s;
  }
  // 3. Messages that promise durable state.
  for (Message& m : rd.messages) out->push_back(std::move(m));
  // 4. Apply.
  for (const LogEntry& e : rd.committed_entries) {
    if (e.index() <= sm_.applied_index()) continue;  // replay after restart
    sm_.Apply(e);
    if (on_apply) on_apply(e);
  }
  for (const ReadState& r : rd.read_states) {
    if (on_read) on_read(r);
  }
  // 5. Advance.
  node_->Advance();
  MaybeSnapshot();
  return true;
}

void NodeHost::MaybeSnapshot() {
  if (!node_->SnapshotDue()) return;
  CHECK_EQ(sm_.applied_index(), node_->applied_index());
  storage::Snapshot snap;
  snap.meta = node_->SnapshotMetaAtApplied();
  std::string data = sm_.Serialize();
  snap.meta.set_size(data.size());
  snap.meta.set_checksum(storage::SnapshotChecksum(data));
  snap.data = std::make_shared<const std::string>(std::move(data));
  absl::Status s = store_->SaveSnapshot(snap);
  CHECK(s.ok()) << s;
  ++snapshots_taken_;
}

}  // namespace concordance::raft::testing
