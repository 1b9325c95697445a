#include "concordance/node_server.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "concordance/fsm.h"
#include "concordance/housekeeper.h"
#include "concordance/hub.h"
#include "concordance/kv_service.h"
#include "concordance/node_driver.h"
#include "concordance/peer_manager.h"
#include "gateway/client.h"
#include "gateway/url.h"
#include "glog/logging.h"
#include "storage/kv_store.h"
#include "storage/raft_log.h"
#include "util/metrics.h"

namespace concordance {

namespace {

int Ticks(int ms, int tick_ms) { return std::max(1, (ms + tick_ms - 1) / tick_ms); }

}  // namespace

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

struct NodeServer::Parts {
  int lock_fd = -1;
  metrics::Registry metrics;
  SystemClock clock;
  std::unique_ptr<storage::RaftLog> raft_log;
  std::unique_ptr<storage::KvStore> kv_store;
  std::unique_ptr<storage::CredentialCipher> cipher;
  std::unique_ptr<Hub> hub;
  std::unique_ptr<Fsm> fsm;
  std::unique_ptr<PeerManager> peers;
  std::unique_ptr<NodeDriver> driver;
  std::unique_ptr<KvService> service;
  std::unique_ptr<Housekeeper> housekeeper;
  std::unique_ptr<gateway::Authenticator> auth;
  std::unique_ptr<gateway::Server> server;
  std::thread joiner;
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
};

NodeServer::NodeServer(NodeOptions options)
    : options_(std::move(options)), parts_(std::make_unique<Parts>()) {}

NodeServer::~NodeServer() { Stop(); }

uint16_t NodeServer::port() const { return parts_->server ? parts_->server->port() : 0; }

absl::Status NodeServer::Start() {
  Parts& p = *parts_;
  std::string host;
  uint16_t port;
  absl::Status s = gateway::SplitHostPort(options_.listen, &host, &port);
  if (!s.ok()) return s;
  bool keys = !options_.keys.api.empty() || !options_.keys.agent.empty();
  if (!keys) {
    if (!IsLoopback(host)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to listen on ", options_.listen,
          " without API keys: set --api-key (or CONCORDANCE_API_KEY) and --agent-key, "
          "or listen on a loopback address"));
    }
    LOG(WARNING) << "no API keys configured: anyone who can reach " << options_.listen
                 << " has full access (allowed on loopback only)";
  }

  if (!options_.encryption_key_file.empty()) {
    absl::StatusOr<std::unique_ptr<storage::CredentialCipher>> c =
        storage::CredentialCipher::FromKeyFile(options_.encryption_key_file);
    if (!c.ok()) return c.status();
    p.cipher = std::move(*c);
    LOG(INFO) << "credentials are encrypted at rest with key \"" << p.cipher->active_key_id()
              << "\"";
  }

  // The data dir, locked against a second process.
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data dir ", options_.data_dir, ": ", ec.message()));
  }
  std::string lock_path = options_.data_dir + "/LOCK";
  p.lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (p.lock_fd < 0 || flock(p.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", options_.data_dir, " is in use by another concordance process"));
  }

  absl::StatusOr<std::unique_ptr<storage::RaftLog>> log =
      storage::RaftLog::Open(options_.data_dir + "/raft.db");
  if (!log.ok()) return log.status();
  p.raft_log = std::move(*log);

  // The node's identity is recorded in raft.db on first start.
  absl::StatusOr<std::optional<std::string>> recorded = p.raft_log->ReadMeta("nodeId");
  if (!recorded.ok()) return recorded.status();
  if (recorded->has_value()) {
    if (!options_.node_id.empty() && options_.node_id != **recorded) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data dir ", options_.data_dir, " belongs to node ", **recorded, ", not ",
          options_.node_id, "; use a new data dir for a new node id"));
    }
    options_.node_id = **recorded;
  } else {
    if (options_.node_id.empty()) options_.node_id = "node1";
    s = p.raft_log->WriteMeta("nodeId", options_.node_id);
    if (!s.ok()) return s;
  }
  if (options_.advertise.empty()) options_.advertise = options_.listen;

  // state.db, rebuilt from the snapshot if it is behind it (or lost).
  std::string state_path = options_.data_dir + "/state.db";
  if (p.raft_log->IsEmpty() && std::filesystem::exists(state_path)) {
    std::string aside = absl::StrCat(state_path, ".orphaned-", p.clock.NowMs());
    LOG(WARNING) << "raft.db is empty but state.db exists: moving it to " << aside
                 << "; this node starts empty and catches up from the cluster";
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::rename(state_path + suffix, aside + suffix, ec);
    }
  }
  absl::StatusOr<std::unique_ptr<storage::KvStore>> kv =
      storage::KvStore::Open(state_path, storage::KvStore::Options{options_.io_threads + 2});
  if (!kv.ok()) return kv.status();
  p.kv_store = std::move(*kv);
  raft::SnapshotMeta snap = p.raft_log->snapshot_meta();
  if (p.kv_store->AppliedIndex() < snap.index()) {
    LOG(INFO) << "state.db (applied " << p.kv_store->AppliedIndex()
              << ") is behind the snapshot at " << snap.index() << ": restoring it";
    if (!storage::RaftLog::HasImage(snap)) {
      return absl::DataLossError(absl::StrCat(
          "state.db (applied index ", p.kv_store->AppliedIndex(),
          ") is behind raft.db's compaction point ", snap.index(),
          " and there is no snapshot image to rebuild it from: this node's state is lost. "
          "Remove the node from the cluster and add it back with an empty data dir "
          "(docs/operations.md, replacing a node)"));
    }
    absl::StatusOr<storage::Snapshot> data = p.raft_log->LoadSnapshot();
    if (!data.ok()) return data.status();
    s = p.kv_store->Restore(*data->data);
    if (!s.ok()) return s;
  }
  if (p.kv_store->AppliedIndex() > p.raft_log->LastIndex() &&
      p.kv_store->AppliedIndex() > snap.index()) {
    return absl::DataLossError(absl::StrCat(
        "state.db has applied index ", p.kv_store->AppliedIndex(), " but raft.db ends at ",
        p.raft_log->LastIndex(), ": the two files do not belong together"));
  }

  raft::Member self;
  self.set_node_id(options_.node_id);
  self.set_address(options_.advertise);
  if (!options_.restore_from.empty()) {
    if (!options_.bootstrap || !p.raft_log->IsEmpty()) {
      return absl::FailedPreconditionError(
          "--restore needs --bootstrap and an empty data dir: it starts a new cluster");
    }
    s = RestoreBackup(self);
    if (!s.ok()) return s;
  } else if (options_.bootstrap) {
    if (p.raft_log->IsEmpty()) {
      s = raft::Node::Bootstrap(p.raft_log.get(), {self});
      if (!s.ok()) return s;
      LOG(INFO) << "bootstrapped a new cluster with " << options_.node_id << " at "
                << options_.advertise;
    } else {
      LOG(INFO) << "--bootstrap ignored: " << options_.data_dir << " already holds cluster state";
    }
  }

  p.hub = std::make_unique<Hub>(p.kv_store.get(), Hub::Options(), &p.metrics);
  p.fsm = std::make_unique<Fsm>(p.kv_store.get(), p.hub.get(), &p.metrics);
  uint64_t seed = std::hash<std::string>()(options_.node_id) ^ static_cast<uint64_t>(p.clock.NowMs());
  p.peers = std::make_unique<PeerManager>(
      options_.node_id, options_.advertise,
      options_.keys.peer.empty() ? options_.keys.api : options_.keys.peer, seed, &p.metrics);

  DriverOptions d;
  d.tick_ms = options_.tick_ms;
  d.proposal_timeout_ms = options_.proposal_timeout_ms;
  d.raft.id = options_.node_id;
  d.raft.election_ticks_min = Ticks(options_.election_timeout_min_ms, options_.tick_ms);
  d.raft.election_ticks_max =
      std::max(d.raft.election_ticks_min, Ticks(options_.election_timeout_max_ms, options_.tick_ms));
  d.raft.heartbeat_ticks = Ticks(options_.heartbeat_ms, options_.tick_ms);
  d.raft.max_entries_per_append = options_.max_entries_per_append;
  d.raft.snapshot_threshold = options_.snapshot_threshold;
  d.raft.seed = seed;
  p.driver = std::make_unique<NodeDriver>(d, p.raft_log.get(), p.fsm.get(), p.peers.get(),
                                          &p.metrics);
  p.peers->set_driver(p.driver.get());
  s = p.driver->Start();
  if (!s.ok()) return s;
  Housekeeper::Options ho;
  ho.changelog_retention = options_.changelog_retention;
  p.housekeeper = std::make_unique<Housekeeper>(ho, p.kv_store.get(), p.driver.get(), &p.clock,
                                                &p.metrics);
  p.housekeeper->Start();

  KvService::Options so;
  so.limits = options_.limits;
  so.min_seq_timeout_ms = options_.min_seq_timeout_ms;
  so.cipher = p.cipher.get();
  p.service = std::make_unique<KvService>(so, p.kv_store.get(), p.driver.get(), p.hub.get(),
                                          &p.clock, &p.metrics);
  p.service->set_peer_handler(p.peers.get());
  p.service->set_transport(p.peers.get());
  p.auth = std::make_unique<gateway::Authenticator>(options_.keys);

  gateway::Server::Options go;
  go.host = host;
  go.port = port;
  go.io_threads = options_.io_threads;
  go.limits = options_.limits;
  go.ws_send_queue_messages = options_.ws_send_queue_messages;
  go.ws_send_queue_bytes = options_.ws_send_queue_bytes;
  p.server = std::make_unique<gateway::Server>(go, p.service.get(), p.auth.get(), &p.metrics);
  s = p.server->Start();
  if (!s.ok()) return s;
  LOG(INFO) << "concordance " << options_.node_id << " serving on " << host << ":"
            << p.server->port() << " (data in " << options_.data_dir << ")";
  if (!options_.join.empty()) {
    p.joiner = std::thread([this] { Join(); });
  }
  return absl::OkStatus();
}

absl::Status NodeServer::RestoreBackup(const raft::Member& self) {
  // The backup becomes the new cluster's first snapshot: state.db is
  // replaced by it, and raft.db records a snapshot at the backup's applied
  // index (term 1, this node the only voter), so the log continues after it.
  Parts& p = *parts_;
  std::ifstream in(options_.restore_from, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", options_.restore_from));
  auto image = std::make_shared<std::string>(std::istreambuf_iterator<char>(in),
                                             std::istreambuf_iterator<char>());
  absl::Status s = p.kv_store->Restore(*image);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options_.restore_from, " is not a Concordance backup: ", s.message()));
  }
  storage::Snapshot snap;
  snap.meta.set_index(std::max<uint64_t>(p.kv_store->AppliedIndex(), 1));
  snap.meta.set_term(1);
  *snap.meta.mutable_conf_state()->add_voters() = self;
  snap.meta.set_size(image->size());
  snap.meta.set_checksum(storage::SnapshotChecksum(*image));
  snap.data = image;
  s = p.raft_log->InstallSnapshot(snap);
  if (!s.ok()) return s;
  raft::HardState hs;
  hs.set_term(1);
  hs.set_commit(snap.meta.index());
  s = p.raft_log->Save(&hs, {}, &snap.meta.conf_state());
  if (!s.ok()) return s;
  LOG(INFO) << "restored " << options_.restore_from << " (applied index "
            << p.kv_store->AppliedIndex() << ") as a new cluster with " << options_.node_id;
  return absl::OkStatus();
}

void NodeServer::Join() {
  // Asks a member to add us (it redirects to the leader); idempotent, so a
  // node restarted with --join simply confirms its membership. Retries with
  // backoff until it succeeds or the node stops.
  Parts& p = *parts_;
  std::string body = absl::StrCat("{\"nodeId\":\"", options_.node_id, "\",\"address\":\"",
                                  options_.advertise, "\"}");
  std::vector<std::pair<std::string, std::string>> headers;
  if (!options_.keys.api.empty()) headers.emplace_back("Authorization", "Bearer " + options_.keys.api);
  int delay_ms = 100;
  while (!p.stopping.load()) {
    std::string target = options_.join;
    std::string outcome;
    for (int hop = 0; hop < 4; ++hop) {
      absl::StatusOr<gateway::HttpReply> r =
          gateway::HttpCall(target, "POST", "/api/v1/cluster/join", body, headers, 5000);
      if (!r.ok()) {
        outcome = std::string(r.status().message());
        break;
      }
      if (r->status == 307 && r->headers.count("location")) {
        // http://host:port/path -> host:port
        std::string loc = r->headers["location"];
        size_t start = loc.find("//");
        start = start == std::string::npos ? 0 : start + 2;
        target = loc.substr(start, loc.find('/', start) - start);
        continue;
      }
      if (r->status == 200) {
        LOG(INFO) << "joined the cluster through " << target << " as " << options_.node_id;
        return;
      }
      outcome = absl::StrCat("HTTP ", r->status, ": ", r->body);
      break;
    }
    LOG(WARNING) << "join through " << options_.join << " not done yet (" << outcome
                 << "); retrying in " << delay_ms << " ms";
    std::unique_lock<std::mutex> l(p.stop_mu);
    p.stop_cv.wait_for(l, std::chrono::milliseconds(delay_ms), [&] { return p.stopping.load(); });
    delay_ms = std::min(delay_ms * 2, 5000);
  }
}

void NodeServer::Stop() {
  Parts& p = *parts_;
  {
    std::lock_guard<std::mutex> l(p.stop_mu);
    p.stopping = true;
  }
  p.stop_cv.notify_all();
  if (p.joiner.joinable()) p.joiner.join();
  if (p.server) {
    LOG(INFO) << "shutting down: closing connections";
    p.server->Stop(5000);  // no I/O thread runs after this
  }
  // Requests still pending past the grace period are failed by the driver
  // (and long polls dropped with the hub): their callbacks reach the
  // server's handlers and post to its stopped io_context, so the server
  // object outlives them all.
  if (p.driver) {
    p.driver->Stop();
  }
  if (p.peers) p.peers->Stop();
  p.housekeeper.reset();  // its timers died with the driver's loop
  p.driver.reset();
  p.service.reset();
  p.fsm.reset();
  p.hub.reset();
  p.peers.reset();
  p.server.reset();
  if (p.kv_store || p.raft_log) LOG(INFO) << "closing databases";
  p.kv_store.reset();
  p.raft_log.reset();
  if (p.lock_fd >= 0) {
    close(p.lock_fd);
    p.lock_fd = -1;
  }
}

}  // namespace concordance
