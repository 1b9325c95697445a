#include "gateway/peer_transport.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/raft_codec.h"
#include "gateway/raft_codec.h"
#include "glog/logging.h"
#include "storage/validation.h"
#include "util/status_macros.h"
#include "util/status_payloads.h"

namespace concordance::gateway {
namespace {

bool IsLeaderMessage(const raft::Message& m) {
  return m.has_append_entries() || m.has_install_snapshot() || m.has_timeout_now() ||
         m.has_read_index_response();
}

// A version a peer announced that status may show: non-empty, short,
// printable ASCII.
bool ValidVersion(const std::string& version) {
  if (version.empty() || version.size() > 64) return false;
  for (unsigned char c : version) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

PeerTransport::PeerTransport(Options options, RaftInbox* inbox, metrics::Registry* metrics)
    : self_id_(options.self_id),
      on_removed_(std::move(options.on_removed)),
      inbox_(inbox),
      dialer_(
          PeerDialer::Options{
              options.self_id, std::move(options.self_address), std::move(options.self_version),
              std::move(options.peer_key), 4096, 50, 2000, 2000, options.seed,
              [this](const std::string& peer, const std::string& reason) {
                OnRemovedByPeer(peer, reason);
              },
              std::move(options.tls)},
          metrics) {
  received_ = metrics->GetCounter("concordance_peer_messages_received_total",
                                  "Raft messages received from peers.");
  rejected_ = metrics->GetCounter("concordance_peer_messages_rejected_total",
                                  "Malformed or misaddressed peer frames dropped.");
}

PeerTransport::~PeerTransport() { Stop(); }

void PeerTransport::Stop() { dialer_.Stop(); }

void PeerTransport::Send(std::vector<raft::Message> messages) {
  // One hand-off to the dialer's thread for the whole batch.
  std::vector<PeerDialer::Frame> frames;
  frames.reserve(messages.size());
  for (const raft::Message& m : messages) {
    PeerDialer::Frame f{m.to(), "", ""};
    f.text = EncodeRaftMessage(m, &f.binary);
    frames.push_back(std::move(f));
  }
  dialer_.SendAll(std::move(frames));
}

void PeerTransport::UpdatePeers(const raft::ConfState& conf, uint64_t conf_index) {
  absl::MutexLock l(&mu_);
  conf_ = conf;
  conf_index_ = conf_index;
  // Versions are kept for members and for peers still being dialed back.
  std::set<std::string> known;
  for (const auto* list : {&conf_.voters(), &conf_.learners()}) {
    for (const raft::Member& m : *list) known.insert(m.node_id());
  }
  for (auto it = versions_.begin(); it != versions_.end();) {
    it = known.count(it->first) || learned_.count(it->first) ? std::next(it) : versions_.erase(it);
  }
  UpdateDialerLocked();
}

void PeerTransport::UpdateDialerLocked() {
  std::map<std::string, std::string> peers;
  bool member = false;
  for (const auto* list : {&conf_.voters(), &conf_.learners()}) {
    for (const raft::Member& m : *list) {
      peers[m.node_id()] = m.address();
      member |= m.node_id() == self_id_;
    }
  }
  for (const auto& [id, address] : learned_) {
    if (!member || leaders_heard_.count(id)) peers.emplace(id, address);
  }
  peers.erase(self_id_);
  dialer_.SetPeers(peers);
}

void PeerTransport::NoteLeaderLocked(const std::string& node_id) {
  if (leaders_heard_.count(node_id) || !learned_.count(node_id)) return;
  for (const auto* list : {&conf_.voters(), &conf_.learners()}) {
    for (const raft::Member& m : *list) {
      if (m.node_id() == node_id) return;  // dialed anyway
    }
  }
  leaders_heard_.insert(node_id);
  UpdateDialerLocked();
}

bool PeerTransport::Reachable(const std::string& node_id) const {
  return dialer_.Connected(node_id);
}

std::string PeerTransport::PeerVersion(const std::string& node_id) const {
  absl::MutexLock l(&mu_);
  auto it = versions_.find(node_id);
  return it == versions_.end() ? "" : it->second;
}

absl::Status PeerTransport::Connected(uint64_t link, const std::string& node_id,
                                    const std::string& address, const std::string& version,
                                    std::function<void()> resume) {
  // The gateway already checked the peer key. A node not yet in our
  // configuration (a learner being added) may connect too.
  absl::Status s = storage::ValidateNodeId(node_id);
  if (s.ok() && !address.empty()) s = storage::ValidateAddress(address);

  if (!s.ok()) {
    rejected_->Inc();
    return s;
  }
  if (node_id == self_id_) return absl::InvalidArgumentError("that is this node's own id");
  absl::MutexLock l(&mu_);
  VLOG(1) << "peer " << node_id << " connected from " << address;
  links_[link].resume = std::move(resume);
  // Shown in status only: a version this build cannot show is dropped, not
  // a reason to refuse the link (a later release may spell it otherwise).
  if (ValidVersion(version)) {
    versions_.insert_or_assign(node_id, version);
  } else {
    versions_.erase(node_id);
  }
  if (!address.empty()) {
    learned_.insert_or_assign(node_id, address);
    UpdateDialerLocked();
  }
  return absl::OkStatus();
}

absl::Status PeerTransport::CheckNotRemovedLocked(const std::string& node_id) {
  for (const std::string& id : conf_.removed()) {
    if (id != node_id) continue;
    absl::Status removed = absl::FailedPreconditionError(absl::StrCat(
        "removed from the cluster at configuration index ", conf_index_));
    SetIntPayload(removed, kRemovedPayload, static_cast<int64_t>(conf_index_));
    return removed;
  }
  return absl::OkStatus();
}

void PeerTransport::Reject(const std::string& node_id, const std::string& why) {
  rejected_->Inc();
  LOG_EVERY_N(WARNING, 100) << "dropping a bad frame from peer " << node_id << ": " << why
                            << " (every 100th shown)";
}

absl::StatusOr<bool> PeerTransport::Text(uint64_t link, const std::string& node_id,
                                       std::string json) {
  size_t binary_length = 0;
  absl::StatusOr<raft::Message> m = DecodeRaftMessage(json, &binary_length);
  if (!m.ok()) {
    Reject(node_id, std::string(m.status().message()));
    return true;
  }
  if (m->from() != node_id || m->to() != self_id_) {
    Reject(node_id, "wrong from/to");
    return true;
  }
  {
    absl::MutexLock l(&mu_);
    if (!IsLeaderMessage(*m)) {
      // A node our configuration lists as removed, asking for votes or
      // answering: tell it it was removed, and hang up. What a leader sends
      // passes: a node removed and added back since may lead already, and
      // its appends are how this node learns so (a stale one is refused by
      // its term).
      RETURN_IF_ERROR(CheckNotRemovedLocked(node_id));
    } else {
      NoteLeaderLocked(node_id);  // so that our answers reach it
    }
  }
  received_->Inc();
  if (binary_length > 0) {
    if (!m->has_install_snapshot()) {
      Reject(node_id, "binary data announced for a message that carries none");
      return true;
    }
    absl::MutexLock l(&mu_);
    auto it = links_.find(link);
    if (it == links_.end()) return true;
    it->second.pending_snapshot = std::move(*m);
    it->second.pending_length = binary_length;
    return true;
  }
  return Deliver(link, std::move(*m), json.size());
}

absl::StatusOr<bool> PeerTransport::Binary(uint64_t link, const std::string& node_id,
                                         std::string bytes) {
  raft::Message m;
  {
    absl::MutexLock l(&mu_);
    auto it = links_.find(link);
    if (it == links_.end() || !it->second.pending_snapshot) {
      Reject(node_id, "a binary frame without a snapshot notice");
      return true;
    }
    m = std::move(*it->second.pending_snapshot);
    size_t expected = it->second.pending_length;
    it->second.pending_snapshot.reset();
    if (bytes.size() != expected) {
      Reject(node_id, absl::StrCat("a snapshot chunk of ", bytes.size(), " bytes, announced ",
                                   expected));
      return true;
    }
  }
  size_t size = bytes.size();
  m.mutable_install_snapshot()->set_data(std::move(bytes));
  return Deliver(link, std::move(m), size);
}

bool PeerTransport::Deliver(uint64_t link, raft::Message m, size_t bytes) {
  std::function<void()> resume;
  {
    absl::MutexLock l(&mu_);
    auto it = links_.find(link);
    if (it == links_.end()) return true;
    resume = it->second.resume;
  }
  return inbox_->Deliver(std::move(m), bytes, std::move(resume));
}

void PeerTransport::Disconnected(uint64_t link, const std::string&) {
  absl::MutexLock l(&mu_);
  links_.erase(link);
}

void PeerTransport::OnRemovedByPeer(const std::string& peer_id, const std::string& reason) {
  // "removed from the cluster at configuration index N"
  size_t pos = reason.rfind(' ');
  uint64_t index = 0;
  if (pos == std::string::npos || !absl::SimpleAtoi(reason.substr(pos + 1), &index)) index = 1;
  LOG_EVERY_N(WARNING, 50) << "peer " << peer_id << " refuses this node: " << reason;
  if (on_removed_) on_removed_(index);
}

}  // namespace concordance::gateway
