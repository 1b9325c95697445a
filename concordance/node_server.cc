#include "concordance/node_server.h"

#include <atomic>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "concordance/changes_poller.h"
#include "concordance/changes_service.h"
#include "concordance/cluster_service.h"
#include "concordance/credential_view.h"
#include "concordance/disk_space.h"
#include "concordance/fsm.h"
#include "concordance/housekeeper.h"
#include "concordance/hub.h"
#include "concordance/kv_service.h"
#include "concordance/leader_clock.h"
#include "concordance/maintenance_service.h"
#include "concordance/member_agent.h"
#include "concordance/node_driver.h"
#include "concordance/state_hasher.h"
#include "concordance/watch_service.h"
#include "concordance/worker.h"
#include "gateway/grpc_server.h"
#include "gateway/listener.h"
#include "gateway/peer_transport.h"
#include "gateway/url.h"
#include "glog/logging.h"
#include "storage/kv_store.h"
#include "storage/raft_log.h"
#include "util/metrics.h"
#include "util/status_macros.h"
#include "util/version.h"

namespace concordance {

namespace {

int Ticks(int ms, int tick_ms) {
  return std::max(1, (ms + tick_ms - 1) / tick_ms);
}

}  // namespace

struct NodeServer::Parts {
  std::optional<gateway::Listener> listener;
  int lock_fd = -1;
  metrics::Registry metrics;
  SystemClock clock;
  LeaderClock leader_clock{&clock};  // reads and writes answer by the leader's clock
  std::unique_ptr<storage::RaftLog> raft_log;
  std::unique_ptr<storage::KvStore> kv_store;
  std::unique_ptr<storage::CredentialCipher> cipher;
  std::unique_ptr<Worker> maintenance;
  std::unique_ptr<Hub> hub;
  std::unique_ptr<Fsm> fsm;
  std::unique_ptr<DiskSpace> disk_space;
  gateway::PeerTransport* peers = nullptr;  // owned by the driver
  std::unique_ptr<NodeDriver> driver;
  // The API's services and their parts.
  std::unique_ptr<CredentialView> credentials;
  std::unique_ptr<ChangesPoller> poller;
  std::unique_ptr<StateHasher> hasher;
  std::unique_ptr<KvService> kv;
  std::unique_ptr<ChangesService> changes;
  std::unique_ptr<WatchService> watch;
  std::unique_ptr<ClusterService> cluster;
  std::unique_ptr<MaintenanceService> maintenance_service;
  std::unique_ptr<Housekeeper> housekeeper;
  std::unique_ptr<gateway::Authenticator> auth;
  std::shared_ptr<gateway::TlsContexts> tls;  // null without TLS
  std::unique_ptr<gateway::GrpcServer> grpc;
  std::unique_ptr<gateway::Server> server;
  // The server while its I/O threads run: where the driver's answers to
  // client writes are encoded and sent (DriverOptions::reply_executor).
  std::atomic<gateway::Server*> reply_server{nullptr};
  std::unique_ptr<MemberAgent> agent;
};

NodeServer::NodeServer(NodeOptions options)
    : options_(std::move(options)), parts_(std::make_unique<Parts>()) {}

NodeServer::~NodeServer() { Stop(); }

uint16_t NodeServer::port() const {
  return parts_->server ? parts_->server->port() : 0;
}

std::optional<absl::Status> NodeServer::fatal() const {
  absl::MutexLock l(&fatal_mu_);
  return fatal_;
}

absl::Status NodeServer::Start() {
  RETURN_IF_ERROR(CheckOptions());
  RETURN_IF_ERROR(Listen());
  RETURN_IF_ERROR(OpenDataDir());
  RETURN_IF_ERROR(OpenStores());
  return StartNode();
}

absl::Status NodeServer::CheckOptions() {
  if (options_.bootstrap && !options_.join.empty()) {
    return absl::InvalidArgumentError(
        "--bootstrap and --join are exclusive: --bootstrap starts a new "
        "cluster with this "
        "node, --join adds it to an existing one");
  }
  if (!options_.node_id.empty()) {
    absl::Status s = storage::ValidateNodeId(options_.node_id);
    if (!s.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("--node-id: ", s.message()));
  }
  for (const auto& [flag, value] :
       {std::make_pair("--advertise", &options_.advertise),
        std::make_pair("--join", &options_.join)}) {
    if (value->empty()) continue;
    absl::Status s = storage::ValidateAddress(*value);
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message()));
  }
  if (options_.grpc_idle_timeout_ms < 100) {
    return absl::InvalidArgumentError(
        "--grpc-idle-timeout-ms must be at least 100");
  }
  return absl::OkStatus();
}

absl::Status NodeServer::Listen() {
  Parts& p = *parts_;
  std::string host;
  uint16_t port;
  absl::Status s = gateway::SplitHostPort(options_.listen, &host, &port);
  if (!s.ok())
    return absl::InvalidArgumentError(absl::StrCat("--listen: ", s.message()));
  absl::StatusOr<gateway::Listener> listener =
      gateway::Listener::Bind(host, port);
  if (!listener.ok()) return listener.status();
  s = gateway::CheckKeyConfiguration(options_.keys, options_.listen,
                                     listener->loopback());
  if (!s.ok()) return s;
  bool no_keys = options_.keys.api.empty() && options_.keys.agent.empty() &&
                 options_.keys.peer.empty();
  if (options_.tls.enabled()) {
    absl::StatusOr<std::shared_ptr<gateway::TlsContexts>> tls =
        gateway::TlsContexts::Load(options_.tls);
    if (!tls.ok()) return tls.status();
    p.tls = std::move(*tls);
  } else if (!no_keys && !listener->loopback()) {
    LOG(WARNING) << "TLS is off on " << options_.listen
                 << ", which is not a loopback address: API keys, peer keys and "
                    "credentials travel in cleartext; set --tls-cert-file and --tls-key-file";
  }
  if (no_keys) {
    LOG(WARNING)
        << "no API keys configured: anyone who can reach " << options_.listen
        << " has full access, /raft included (allowed on loopback only)";
  } else if (options_.keys.peer.empty()) {
    LOG(WARNING) << "no peer key (--peer-key-file or CONCORDANCE_PEER_KEY): "
                    "peers authenticate "
                    "on /raft with the API key, so every holder of the API key "
                    "can act as a "
                    "Raft peer; set a separate peer key";
  }
  if (options_.advertise.empty()) {
    // A listen port of 0 took any free port: advertise the one bound.
    bool v6 = host.find(':') != std::string::npos;
    options_.advertise = port != 0
                             ? options_.listen
                             : absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "",
                                            ":", listener->port());
  }
  p.listener = std::move(*listener);
  return absl::OkStatus();
}

absl::Status NodeServer::OpenDataDir() {
  Parts& p = *parts_;
  const std::string& dir = options_.data_dir;
  bool fresh = !std::filesystem::exists(dir + "/raft.db");
  if (fresh && !options_.bootstrap && options_.join.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", dir,
        " holds no cluster state: start the first node of a new cluster "
        "with --bootstrap, or add this node to a running cluster with "
        "--join=<member "
        "host:port>"));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data dir ", dir, ": ", ec.message()));
  }
  // Locked against a second process.
  std::string lock_path = dir + "/LOCK";
  p.lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (p.lock_fd < 0 || flock(p.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", dir, " is in use by another concordance process"));
  }
  absl::StatusOr<std::unique_ptr<storage::RaftLog>> log =
      storage::RaftLog::Open(dir + "/raft.db");
  if (!log.ok()) return log.status();
  p.raft_log = std::move(*log);
  if (p.raft_log->IsEmpty() && !options_.bootstrap && options_.join.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", dir,
        " holds no cluster state: start with --bootstrap (a new cluster) or "
        "--join=<member host:port>"));
  }
  // The node's identity is recorded in raft.db on first start.
  absl::StatusOr<std::optional<std::string>> recorded =
      p.raft_log->ReadMeta("nodeId");
  if (!recorded.ok()) return recorded.status();
  if (recorded->has_value()) {
    if (!options_.node_id.empty() && options_.node_id != **recorded) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data dir ", dir, " belongs to node ", **recorded, ", not ",
          options_.node_id, "; use a new data dir for a new node id"));
    }
    options_.node_id = **recorded;
  } else {
    if (options_.node_id.empty()) options_.node_id = "node1";
    RETURN_IF_ERROR(p.raft_log->WriteMeta("nodeId", options_.node_id));
  }
  return absl::OkStatus();
}

absl::Status NodeServer::OpenStores() {
  RETURN_IF_ERROR(OpenCipher());
  RETURN_IF_ERROR(OpenStateDb());
  return InitializeCluster();
}

absl::Status NodeServer::OpenCipher() {
  Parts& p = *parts_;
  if (!options_.encryption_key_file.empty()) {
    absl::StatusOr<std::unique_ptr<storage::CredentialCipher>> c =
        storage::CredentialCipher::FromKeyFile(options_.encryption_key_file);
    if (!c.ok()) return c.status();
    p.cipher = std::move(*c);
    LOG(INFO) << "credentials are encrypted at rest with key \""
              << p.cipher->active_key_id() << "\"";
  }
  return absl::OkStatus();
}

// state.db, rebuilt from the snapshot if it is behind it (or lost), and
// checked to belong with raft.db.
absl::Status NodeServer::OpenStateDb() {
  Parts& p = *parts_;
  std::string state_path = options_.data_dir + "/state.db";
  std::error_code ec;
  if (p.raft_log->IsEmpty() && std::filesystem::exists(state_path)) {
    std::string aside = absl::StrCat(state_path, ".orphaned-", p.clock.NowMs());
    LOG(WARNING) << "raft.db is empty but state.db exists: moving it to "
                 << aside
                 << "; this node starts empty and catches up from the cluster";
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::rename(state_path + suffix, aside + suffix, ec);
    }
  }
  absl::StatusOr<std::unique_ptr<storage::KvStore>> kv = storage::KvStore::Open(
      state_path, storage::KvStore::Options{options_.io_threads + 4});
  if (!kv.ok()) return kv.status();
  p.kv_store = std::move(*kv);
  raft::SnapshotMeta snap = p.raft_log->snapshot_meta();
  if (p.kv_store->AppliedIndex() < snap.index()) {
    LOG(INFO) << "state.db (applied " << p.kv_store->AppliedIndex()
              << ") is behind the snapshot at " << snap.index()
              << ": restoring it";
    if (!storage::RaftLog::HasImage(snap)) {
      return absl::DataLossError(
          absl::StrCat("state.db (applied index ", p.kv_store->AppliedIndex(),
                       ") is behind raft.db's compaction point ", snap.index(),
                       " and there is no snapshot image to rebuild it from: "
                       "this node's state is lost. "
                       "Remove the node from the cluster and add it back with "
                       "an empty data dir "
                       "(docs/operations.md, replacing a node)"));
    }
    absl::StatusOr<storage::Snapshot> data = p.raft_log->LoadSnapshot();
    if (!data.ok()) return data.status();
    RETURN_IF_ERROR(p.kv_store->Restore(*data->data));
  }
  if (p.kv_store->AppliedIndex() > p.raft_log->LastIndex() &&
      p.kv_store->AppliedIndex() > snap.index()) {
    return absl::DataLossError(
        absl::StrCat("state.db has applied index ", p.kv_store->AppliedIndex(),
                     " but raft.db ends at ", p.raft_log->LastIndex(),
                     ": the two files do not belong together"));
  }
  return absl::OkStatus();
}

// A new cluster from --bootstrap or --restore; nothing for a member.
absl::Status NodeServer::InitializeCluster() {
  Parts& p = *parts_;
  raft::Member self;
  self.set_node_id(options_.node_id);
  self.set_address(options_.advertise);
  if (!options_.restore_from.empty()) {
    if (!options_.bootstrap || !p.raft_log->IsEmpty()) {
      return absl::FailedPreconditionError(
          "--restore needs --bootstrap and an empty data dir: it starts a new "
          "cluster");
    }
    return RestoreBackup(self);
  }
  if (options_.bootstrap) {
    if (p.raft_log->IsEmpty()) {
      RETURN_IF_ERROR(raft::Node::Bootstrap(p.raft_log.get(), {self}));
      LOG(INFO) << "bootstrapped a new cluster with " << options_.node_id
                << " at " << options_.advertise;
    } else {
      LOG(INFO) << "--bootstrap ignored: " << options_.data_dir
                << " already holds cluster state";
    }
  }
  return absl::OkStatus();
}

DriverOptions NodeServer::DriverOptionsFor(uint64_t seed) {
  DriverOptions d;
  d.tick_ms = options_.tick_ms;
  d.proposal_timeout_ms = options_.proposal_timeout_ms;
  d.max_inbox_messages = options_.raft_inbox_messages;
  d.peer_warning_interval_ms = options_.peer_warning_interval_ms;
  d.raft.id = options_.node_id;
  d.raft.election_ticks_min =
      Ticks(options_.election_timeout_min_ms, options_.tick_ms);
  d.raft.election_ticks_max =
      std::max(d.raft.election_ticks_min,
               Ticks(options_.election_timeout_max_ms, options_.tick_ms));
  d.raft.heartbeat_ticks = Ticks(options_.heartbeat_ms, options_.tick_ms);
  d.raft.max_entries_per_append = options_.max_entries_per_append;
  d.raft.snapshot_threshold = options_.snapshot_threshold;
  d.raft.max_snapshot_bytes = options_.max_snapshot_bytes;
  metrics::Counter* refused = parts_->metrics.GetCounter(
      "concordance_snapshots_refused_total",
      "Snapshot images from a leader refused before install (not a state.db of "
      "the announced "
      "index and term); the log is kept and the leader asked again.");
  d.raft.validate_snapshot = [refused](const raft::SnapshotMeta& meta,
                                       const std::string& data) {
    absl::Status s =
        storage::KvStore::ValidateImage(data, meta.index(), meta.term());
    if (!s.ok()) refused->Inc();
    return s;
  };
  d.raft.seed = seed;
  parts_->disk_space = std::make_unique<DiskSpace>(options_.data_dir, options_.min_free_disk_bytes,
                                                   &parts_->metrics);
  d.admit_write = [disk = parts_->disk_space.get()] { return disk->AdmitWrite(); };
  d.reply_executor = [p = parts_.get()](std::function<void()> fn) {
    if (gateway::Server* server = p->reply_server.load()) {
      server->PostInOrder(std::move(fn));
    } else {
      fn();
    }
  };
  return d;
}

absl::Status NodeServer::ReloadTls() {
  if (parts_->tls == nullptr) {
    return absl::FailedPreconditionError("TLS is off (no --tls-cert-file): nothing to reload");
  }
  return parts_->tls->Reload();
}

absl::Status NodeServer::StartNode() {
  Parts& p = *parts_;
  p.metrics
      .GetGauge("concordance_build_info",
                "The version and commit this node runs (always 1).",
                {{"version", Version()}, {"commit", Commit()}})
      ->Set(1);
  p.maintenance = std::make_unique<Worker>("maintenance");
  p.hub = std::make_unique<Hub>(p.kv_store.get(), Hub::Options(), &p.metrics);
  p.fsm = std::make_unique<Fsm>(p.kv_store.get(), p.hub.get(), &p.metrics, &p.leader_clock);
  uint64_t seed = std::hash<std::string>()(options_.node_id) ^
                  static_cast<uint64_t>(p.clock.NowMs());
  gateway::PeerTransport::Options po;
  po.self_id = options_.node_id;
  po.self_address = options_.advertise;
  po.self_version = Version();
  po.peer_key =
      options_.keys.peer.empty() ? options_.keys.api : options_.keys.peer;
  po.seed = seed;
  po.tls = p.tls;
  auto make_transport = [&](gateway::RaftInbox* inbox,
                            std::function<void(uint64_t)> removed) {
    po.on_removed = std::move(removed);
    auto t = std::make_unique<gateway::PeerTransport>(po, inbox, &p.metrics);
    p.peers = t.get();
    return std::unique_ptr<gateway::RaftTransport>(std::move(t));
  };
  p.driver =
      std::make_unique<NodeDriver>(DriverOptionsFor(seed), p.raft_log.get(),
                                   p.fsm.get(), make_transport, &p.metrics);
  RETURN_IF_ERROR(p.driver->Start());
  Housekeeper::Options ho;
  ho.changelog_retention = options_.changelog_retention;
  p.housekeeper = std::make_unique<Housekeeper>(
      ho, p.kv_store.get(), p.driver.get(), &p.clock, &p.metrics);
  p.housekeeper->Start();

  BuildServices();
  p.auth = std::make_unique<gateway::Authenticator>(options_.keys);
  return StartServing();
}

void NodeServer::BuildServices() {
  Parts& p = *parts_;
  p.credentials = std::make_unique<CredentialView>(p.cipher.get());
  p.poller = std::make_unique<ChangesPoller>(p.kv_store.get(), p.hub.get(),
                                             p.credentials.get(), &p.metrics);
  p.hasher = std::make_unique<StateHasher>(p.kv_store.get(),
                                           p.maintenance.get(), &p.metrics);
  KvService::Options ko;
  ko.limits = options_.limits;
  ko.min_seq_timeout_ms = options_.min_seq_timeout_ms;
  ko.max_page_bytes = options_.max_page_bytes;
  p.leader_clock.set_is_leader([driver = p.driver.get()] { return driver->IsLeader(); });
  p.kv = std::make_unique<KvService>(ko, p.kv_store.get(), p.driver.get(),
                                     p.credentials.get(), &p.leader_clock);
  p.changes = std::make_unique<ChangesService>(
      options_.limits, options_.max_page_bytes, p.poller.get(), p.driver.get());
  p.watch = std::make_unique<WatchService>(options_.limits, p.hub.get(),
                                           p.credentials.get(), p.driver.get());
  p.cluster = std::make_unique<ClusterService>(p.driver.get(), p.hasher.get());
  p.maintenance_service = std::make_unique<MaintenanceService>(
      p.kv_store.get(), p.maintenance.get(), &p.metrics);
}

gateway::Api NodeServer::Api() const {
  const Parts& p = *parts_;
  return gateway::Api{p.kv.get(), p.changes.get(), p.watch.get(),
                      p.cluster.get(), p.maintenance_service.get()};
}

absl::Status NodeServer::StartServing() {
  Parts& p = *parts_;
  gateway::Server::Options go;
  go.listen_ipv6 = p.listener->ipv6();
  go.listen_fd = p.listener->Release();
  go.io_threads = options_.io_threads;
  go.limits = options_.limits;
  go.ws_send_queue_messages = options_.ws_send_queue_messages;
  go.ws_send_queue_bytes = options_.ws_send_queue_bytes;
  go.max_connections = options_.max_connections;
  go.max_peer_connections = options_.max_peer_connections;
  go.tls = p.tls;
  gateway::GrpcServer::Options gro;
  gro.limits = options_.limits;
  gro.watch_queue_messages = options_.ws_send_queue_messages;
  gro.watch_queue_bytes = options_.ws_send_queue_bytes;
  gro.idle_timeout_ms = options_.grpc_idle_timeout_ms;
  p.grpc = std::make_unique<gateway::GrpcServer>(gro, Api(), p.auth.get());
  RETURN_IF_ERROR(p.grpc->Start());
  p.server = std::make_unique<gateway::Server>(go, Api(), p.auth.get(), p.peers,
                                               p.grpc.get(), &p.metrics);
  RETURN_IF_ERROR(p.server->Start());
  p.reply_server = p.server.get();
  LOG(INFO) << "concordance " << options_.node_id << " serving on "
            << p.listener->address() << ":" << p.server->port()
            << (p.tls ? " with TLS" : "") << " (data in "
            << options_.data_dir << ")";
  MemberAgent::Options ao;
  ao.node_id = options_.node_id;
  ao.advertise = options_.advertise;
  ao.join = options_.join;
  ao.api_key = options_.keys.api;
  ao.tls = p.tls;
  p.agent =
      std::make_unique<MemberAgent>(ao, p.driver.get(), [this](absl::Status s) {
        absl::MutexLock l(&fatal_mu_);
        fatal_ = std::move(s);
      });
  p.agent->Start();
  return absl::OkStatus();
}

absl::Status NodeServer::RestoreBackup(const raft::Member& self) {
  // The backup becomes the new cluster's first snapshot: state.db is
  // replaced by it, and raft.db records a snapshot at the backup's applied
  // index and term (this node the only voter), so the log continues after
  // it and an image made of it matches its metadata.
  Parts& p = *parts_;
  std::ifstream in(options_.restore_from, std::ios::binary);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("cannot read ", options_.restore_from));
  auto image = std::make_shared<std::string>(std::istreambuf_iterator<char>(in),
                                             std::istreambuf_iterator<char>());
  absl::Status s = p.kv_store->Restore(*image);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options_.restore_from, " is not a Concordance backup: ", s.message()));
  }
  storage::Snapshot snap;
  snap.meta.set_index(std::max<uint64_t>(p.kv_store->AppliedIndex(), 1));
  snap.meta.set_term(std::max<uint64_t>(p.kv_store->AppliedTerm(), 1));
  *snap.meta.mutable_conf_state()->add_voters() = self;
  snap.meta.set_size(image->size());
  snap.meta.set_checksum(storage::SnapshotChecksum(*image));
  snap.data = image;
  RETURN_IF_ERROR(p.raft_log->InstallSnapshot(snap));
  raft::HardState hs;
  hs.set_term(snap.meta.term());
  hs.set_commit(snap.meta.index());
  RETURN_IF_ERROR(p.raft_log->Save(&hs, {}, &snap.meta.conf_state()));
  LOG(INFO) << "restored " << options_.restore_from << " (applied index "
            << p.kv_store->AppliedIndex() << ") as a new cluster with "
            << options_.node_id;
  return absl::OkStatus();
}

// A leader hands over before it goes (as etcd's does), so a rolling
// restart costs clients a leader change of milliseconds rather than an
// election timeout with writes stalled.
void NodeServer::HandOffLeadership() {
  Parts& p = *parts_;
  if (!p.driver || !p.driver->IsLeader()) return;
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::Status>();
  p.driver->TransferLeadership("", [done, result](absl::Status s) {
    *result = std::move(s);
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(absl::Seconds(4))) {
    LOG(WARNING) << "leadership hand-off before stopping did not finish; "
                    "stopping anyway";
  } else if (absl::IsFailedPrecondition(*result)) {
    LOG(INFO) << "no leadership hand-off before stopping: "
              << result->message();  // alone, say
  } else if (!result->ok()) {
    LOG(WARNING) << "no leadership hand-off before stopping: " << *result;
  } else {
    LOG(INFO) << "handed leadership over before stopping";
  }
}

void NodeServer::Stop() {
  Parts& p = *parts_;
  if (p.agent) p.agent->Stop();
  HandOffLeadership();
  if (p.server) {
    LOG(INFO) << "shutting down: closing client connections";
    p.server->StopClients(5000);  // in-flight requests answered; /raft still up
  }
  // Watches end now (UNAVAILABLE: a client resumes elsewhere from its last
  // seq) rather than hold the gRPC server for its whole grace.
  if (p.hub) p.hub->EndAll(absl::UnavailableError("node shutting down"));
  if (p.grpc) p.grpc->Stop(2000);  // in-flight calls answered within the grace
  p.reply_server = nullptr;  // answers run on the loop again
  if (p.server)
    p.server->Stop(1000);  // the /raft links; no I/O thread runs after this
  // Requests still pending past the grace period are failed by the driver
  // (and long polls dropped with the hub): their callbacks reach the
  // server's handlers and post to its stopped io_context, so the server
  // object outlives them all.
  if (p.driver) p.driver->Stop();
  if (p.peers) p.peers->Stop();  // the driver owns it; no dialing after this
  if (p.hub) p.hub->Stop();
  if (p.maintenance) p.maintenance->Stop();
  p.agent.reset();
  p.housekeeper.reset();  // its timers died with the driver's loop
  p.driver.reset();
  p.maintenance_service.reset();
  p.cluster.reset();
  p.watch.reset();
  p.changes.reset();
  p.kv.reset();
  p.hasher.reset();
  p.poller.reset();
  p.credentials.reset();
  p.fsm.reset();
  p.hub.reset();
  p.peers = nullptr;
  p.server.reset();
  p.grpc.reset();
  p.maintenance.reset();
  if (p.kv_store || p.raft_log) LOG(INFO) << "closing databases";
  p.kv_store.reset();
  p.raft_log.reset();
  p.listener.reset();
  if (p.lock_fd >= 0) {
    close(p.lock_fd);
    p.lock_fd = -1;
  }
}

}  // namespace concordance
