// concordance: one node of a replicated, multi-tenant configuration store.
//
//   concordance --bootstrap --listen=127.0.0.1:4100 --data-dir=./data
//
// Every flag is listed by --help; they are spelled with dashes
// (--node-id, --snapshot-threshold) or underscores, as gflags accepts both.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "concordance/node_server.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "util/failpoint.h"
#include "util/flag_help.h"

DEFINE_string(node_id, "", "this node's id (default: the one recorded in --data-dir, else node1)");
DEFINE_string(listen, "127.0.0.1:4100", "host:port to serve HTTP, WebSocket and peers on");
DEFINE_string(advertise, "", "host:port peers and redirected clients use (default: --listen)");
DEFINE_string(data_dir, "./data", "directory for raft.db and state.db");
DEFINE_bool(bootstrap, false, "start a new cluster with this node (ignored if --data-dir has state)");
DEFINE_string(join, "", "host:port of a cluster member to join through");
DEFINE_string(restore, "",
              "with --bootstrap on an empty data dir: start the new cluster from this backup "
              "(a file saved from GET /api/v1/snapshot)");
DEFINE_string(api_key, "",
              "key for full access (prefer --api-key-file or env CONCORDANCE_API_KEY: a flag is "
              "visible in /proc/<pid>/cmdline)");
DEFINE_string(api_key_file, "", "file holding the API key (one line)");
DEFINE_string(agent_key, "", "read-only key (prefer --agent-key-file or env CONCORDANCE_AGENT_API_KEY)");
DEFINE_string(agent_key_file, "", "file holding the read-only agent key");
DEFINE_string(peer_key, "",
              "key peers present on /raft (prefer --peer-key-file or env CONCORDANCE_PEER_KEY; "
              "default: the API key, with a warning)");
DEFINE_string(peer_key_file, "", "file holding the peer key");
DEFINE_string(tls_cert_file, "",
              "PEM certificate (and chain) for TLS on the port: HTTPS, wss:// and gRPC over TLS; "
              "peers are then dialed with wss://. Reloaded on SIGHUP");
DEFINE_string(tls_key_file, "", "PEM private key of --tls-cert-file");
DEFINE_string(tls_client_ca_file, "",
              "PEM CA bundle: require every client (peers included) to present a certificate "
              "it signed (mutual TLS)");
DEFINE_string(peer_tls_ca_file, "",
              "PEM CA bundle that peers' certificates must chain to when this node dials them "
              "(default: --tls-client-ca-file, else the system's roots)");
DEFINE_bool(peer_tls_require_node_id, false,
            "a dialed peer's certificate must also name its node id as a DNS subjectAltName");
DEFINE_int32(election_timeout_min_ms, 150, "election timeout, lower bound");
DEFINE_int32(election_timeout_max_ms, 300, "election timeout, upper bound");
DEFINE_int32(heartbeat_ms, 50, "leader heartbeat interval");
DEFINE_int32(tick_ms, 10, "Raft clock resolution");
DEFINE_int32(max_entries_per_append, 100, "entries per AppendEntries message");
DEFINE_uint64(snapshot_threshold, 10000, "entries applied between log compactions (state.db is the snapshot; an image is made only for a follower that needs one)");
DEFINE_uint64(max_snapshot_bytes, uint64_t{1} << 30,
              "largest snapshot image accepted from a leader (a bigger one is refused before "
              "any of it is buffered)");
DEFINE_int32(proposal_timeout_ms, 5000, "how long a write waits for commitment before 503");
DEFINE_int32(min_seq_timeout_ms, 5000, "how long a minSeq read waits before 503");
DEFINE_int64(changelog_retention, 100000, "changelog entries kept");
DEFINE_string(encryption_key_file, "", "keys for credentials at rest (keyId:<64 hex> per line)");
DEFINE_int32(io_threads, 2, "threads serving connections");
DEFINE_uint64(max_value_bytes, 1 << 20, "largest value (serialized JSON)");
DEFINE_uint64(max_body_bytes, (3 << 20) / 2, "largest request body");
DEFINE_uint64(max_namespace_bytes, 256, "longest namespace");
DEFINE_uint64(max_key_bytes, 512, "longest key");
DEFINE_uint64(max_batch_ops, 128, "most ops in one batch");
DEFINE_uint64(max_ws_message_bytes, (3 << 20) / 2, "largest WebSocket message on /stream");
DEFINE_int32(grpc_idle_timeout_ms, 5 * 60 * 1000,
             "a gRPC connection with no call in flight this long is closed (its client slot freed)");
DEFINE_int32(peer_warning_interval_ms, 10000,
             "while a member is unreachable or the quorum is lost, a WARNING naming it repeats "
             "this often");
DEFINE_uint64(ws_send_queue_messages, 4096,
              "messages queued for one /stream client before it is disconnected as too slow");
DEFINE_uint64(ws_send_queue_bytes, 64 << 20,
              "bytes queued for one /stream client before it is disconnected as too slow");
DEFINE_uint64(raft_inbox_messages, 4096,
              "peer messages queued for the Raft loop before /raft connections stop being read "
              "(until the loop catches up)");
DEFINE_uint64(max_page_bytes, 4 << 20,
              "list and changes pages stop at about this many bytes (next / nextSeq continue)");
DEFINE_uint64(max_connections, 10000,
              "client connections (HTTP and /stream) served at once; /raft peers have 64 more "
              "of their own. Must fit the open-files limit.");

DEFINE_uint64(min_free_disk_bytes, 64 << 20,
              "writes are refused (507 disk_full, retryable) while the data dir's filesystem has "
              "less free than this; 0 disables the guard");
DEFINE_bool(fault_injection, false,
            "allow --failpoints (for fault-injection tests only; never in production)");
DEFINE_string(failpoints, "",
              "with --fault-injection: NAME=crash|sleep(MS)[@N][;...] — crash (as kill -9) or stall "
              "at a point in the persistence path, every time or only the Nth (see docs/reliability.md)");

namespace {

constexpr size_t kMaxPeerConnections = 64;

// --failpoints, refused without --fault-injection.
bool ArmFailpoints() {
  if (FLAGS_failpoints.empty()) return true;
  if (!FLAGS_fault_injection) {
    LOG(ERROR) << "--failpoints needs --fault-injection (failpoints are for fault-injection tests)";
    return false;
  }
  absl::Status s = concordance::failpoint::Configure(FLAGS_failpoints);
  if (!s.ok()) {
    LOG(ERROR) << "--failpoints: " << s.message();
    return false;
  }
  LOG(WARNING) << "fault injection on: failpoints armed: " << FLAGS_failpoints;
  return true;
}
// File descriptors a node needs besides its connections: databases and
// their WALs, snapshot files, outbound peer links, logs.
constexpr size_t kReservedFds = 256;

// A key from --X-key, --X-key-file or the environment (in that order; a
// flag and a file together are refused). "" when none is given.
bool LoadKey(const char* name, const std::string& flag, const std::string& file,
             const char* env, std::string* key) {
  if (!flag.empty() && !file.empty()) {
    LOG(ERROR) << "give --" << name << "-key or --" << name << "-key-file, not both";
    return false;
  }
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      LOG(ERROR) << "cannot read --" << name << "-key-file " << file;
      return false;
    }
    std::stringstream text;
    text << in.rdbuf();
    *key = text.str();
    while (!key->empty() && isspace(static_cast<unsigned char>(key->back()))) key->pop_back();
    if (key->empty() || key->find_first_of("\r\n") != std::string::npos) {
      LOG(ERROR) << "--" << name << "-key-file " << file << " must hold one non-empty line";
      return false;
    }
    struct stat st;
    if (stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      LOG(WARNING) << "--" << name << "-key-file " << file
                   << " is readable by other users; chmod 600 it";
    }
    return true;
  }
  if (!flag.empty()) {
    LOG(WARNING) << "--" << name << "-key given on the command line, where every local user "
                 << "can read it (/proc/<pid>/cmdline); prefer --" << name
                 << "-key-file or the environment";
    *key = flag;
    return true;
  }
  const char* v = getenv(env);
  *key = v ? v : "";
  return true;
}

// Raises the open-files limit to its hard limit and fits --max-connections
// under it: lowered (with a warning) when left at its default, refused
// when given explicitly.
bool FitConnectionsToFdLimit(size_t* max_connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return true;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  size_t limit = lim.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<size_t>(lim.rlim_cur);
  size_t needed = *max_connections + kMaxPeerConnections + kReservedFds;
  if (needed <= limit) return true;
  size_t fits = limit > kMaxPeerConnections + kReservedFds + 16
                    ? limit - kMaxPeerConnections - kReservedFds
                    : 16;
  if (!gflags::GetCommandLineFlagInfoOrDie("max_connections").is_default) {
    LOG(ERROR) << "--max-connections=" << *max_connections << " does not fit the open-files "
               << "limit of " << limit << " (it needs " << needed << " descriptors with the "
               << "peers' and the databases'); raise the limit (ulimit -n, LimitNOFILE=) or "
               << "use --max-connections=" << fits << " or less";
    return false;
  }
  LOG(WARNING) << "the open-files limit is " << limit << ": serving at most " << fits
               << " client connections instead of " << *max_connections
               << " (raise the limit to serve more)";
  *max_connections = fits;
  return true;
}

// The node's options from the flags; false (logged) when they make no sense.
bool OptionsFromFlags(concordance::NodeOptions* out) {
  concordance::NodeOptions& o = *out;
  o.node_id = FLAGS_node_id;
  o.listen = FLAGS_listen;
  o.advertise = FLAGS_advertise;
  o.data_dir = FLAGS_data_dir;
  o.bootstrap = FLAGS_bootstrap;
  o.join = FLAGS_join;
  o.restore_from = FLAGS_restore;
  if (!LoadKey("api", FLAGS_api_key, FLAGS_api_key_file, "CONCORDANCE_API_KEY", &o.keys.api) ||
      !LoadKey("agent", FLAGS_agent_key, FLAGS_agent_key_file, "CONCORDANCE_AGENT_API_KEY",
               &o.keys.agent) ||
      !LoadKey("peer", FLAGS_peer_key, FLAGS_peer_key_file, "CONCORDANCE_PEER_KEY",
               &o.keys.peer)) {
    return false;
  }
  o.tls.cert_file = FLAGS_tls_cert_file;
  o.tls.key_file = FLAGS_tls_key_file;
  o.tls.client_ca_file = FLAGS_tls_client_ca_file;
  o.tls.peer_ca_file = FLAGS_peer_tls_ca_file;
  o.tls.peer_require_node_id = FLAGS_peer_tls_require_node_id;
  if (!o.tls.enabled() && (!o.tls.client_ca_file.empty() || !o.tls.peer_ca_file.empty() ||
                           o.tls.peer_require_node_id)) {
    LOG(ERROR) << "--tls-client-ca-file, --peer-tls-ca-file and --peer-tls-require-node-id need "
                  "--tls-cert-file and --tls-key-file";
    return false;
  }
  o.election_timeout_min_ms = FLAGS_election_timeout_min_ms;
  o.election_timeout_max_ms = FLAGS_election_timeout_max_ms;
  o.heartbeat_ms = FLAGS_heartbeat_ms;
  o.tick_ms = FLAGS_tick_ms;
  o.max_entries_per_append = FLAGS_max_entries_per_append;
  o.snapshot_threshold = FLAGS_snapshot_threshold;
  o.max_snapshot_bytes = FLAGS_max_snapshot_bytes;
  o.proposal_timeout_ms = FLAGS_proposal_timeout_ms;
  o.min_seq_timeout_ms = FLAGS_min_seq_timeout_ms;
  o.changelog_retention = FLAGS_changelog_retention;
  o.encryption_key_file = FLAGS_encryption_key_file;
  o.io_threads = FLAGS_io_threads;
  o.limits.max_value_bytes = FLAGS_max_value_bytes;
  o.limits.max_body_bytes = FLAGS_max_body_bytes;
  o.limits.max_namespace_bytes = FLAGS_max_namespace_bytes;
  o.limits.max_key_bytes = FLAGS_max_key_bytes;
  o.limits.max_batch_ops = FLAGS_max_batch_ops;
  o.limits.max_ws_message_bytes = FLAGS_max_ws_message_bytes;
  o.ws_send_queue_messages = FLAGS_ws_send_queue_messages;
  o.grpc_idle_timeout_ms = FLAGS_grpc_idle_timeout_ms;
  o.peer_warning_interval_ms = FLAGS_peer_warning_interval_ms;
  o.ws_send_queue_bytes = FLAGS_ws_send_queue_bytes;
  o.max_page_bytes = FLAGS_max_page_bytes;
  o.min_free_disk_bytes = FLAGS_min_free_disk_bytes;
  o.raft_inbox_messages = std::max<uint64_t>(1, FLAGS_raft_inbox_messages);
  o.max_connections = FLAGS_max_connections;
  o.max_peer_connections = kMaxPeerConnections;
  if (!FitConnectionsToFdLimit(&o.max_connections)) return false;
  if (!ArmFailpoints()) return false;
  if (o.election_timeout_min_ms <= 0 || o.election_timeout_max_ms < o.election_timeout_min_ms ||
      o.heartbeat_ms <= 0 || o.heartbeat_ms >= o.election_timeout_min_ms || o.tick_ms <= 0 ||
      o.peer_warning_interval_ms < 100) {
    LOG(ERROR) << "need 0 < --heartbeat-ms < --election-timeout-min-ms <= "
                  "--election-timeout-max-ms, --tick-ms > 0 and --peer-warning-interval-ms >= 100";
    return false;
  }
  return true;
}

constexpr char kUsage[] =
    "One node of a replicated, multi-tenant configuration store.\n\n"
    "Usage:\n"
    "  concordance --bootstrap --listen=127.0.0.1:4100 --data-dir=./data\n"
    "  concordance --join=HOST:PORT --node-id=ID --listen=HOST:PORT --data-dir=DIR\n\n"
    "Logging: --log_dir=DIR (default: stderr), --v=N, --minloglevel=N.\n"
    "Docs: README.md, docs/operations.md.\n";

}  // namespace

int main(int argc, char** argv) {
  // glibc trims a thread's heap top back to the OS once 128 KiB is free
  // there, with madvise() and a TLB shootdown each time; the Raft loop's
  // allocate/free rhythm made that 17% of its CPU (perf, docs/benchmarks.md).
  // Keep up to 64 MiB of free heap instead; large blocks (snapshot images)
  // still come from mmap and go back at once.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_TOP_PAD, 4 << 20);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Debian builds Abseil without NDEBUG, so every absl::Mutex lock in the
  // server kept a lock-order graph for deadlock detection (GraphCycles in
  // the profile). The tests keep it; the server does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  gflags::SetUsageMessage("concordance --bootstrap --listen=127.0.0.1:4100 --data-dir=./data");
  concordance::ParseFlagsWithHelp(&argc, &argv, "concordance", kUsage, "concordance/main.cc");
  // Logs go to stderr unless --log_dir is given (glog would otherwise pick
  // up GOOGLE_LOG_DIR or TEST_TMPDIR from the environment).
  FLAGS_logtostderr = gflags::GetCommandLineFlagInfoOrDie("log_dir").is_default;
  google::InitGoogleLogging(argv[0]);
  if (argc > 1) {
    LOG(ERROR) << "unexpected argument: " << argv[1];
    return 2;
  }

  // Signals are taken by sigwait below; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  concordance::NodeOptions o;
  if (!OptionsFromFlags(&o)) return 2;

  concordance::NodeServer server(o);
  absl::Status s = server.Start();
  if (!s.ok()) {
    LOG(ERROR) << "cannot start: " << s.message();
    return 1;
  }
  // Until a signal, or an error the node cannot go on from.
  while (true) {
    timespec poll{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &poll);
    if (sig == SIGHUP) {
      absl::Status reloaded = server.ReloadTls();
      if (reloaded.ok()) {
        LOG(INFO) << "SIGHUP: reloaded the TLS certificate, key and CAs";
      } else {
        LOG(ERROR) << "SIGHUP: TLS files not reloaded (the current ones stay): "
                   << reloaded.message();
      }
      continue;
    }
    if (sig > 0) {
      LOG(INFO) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ", stopping";
      break;
    }
    if (std::optional<absl::Status> fatal = server.fatal()) {
      LOG(ERROR) << "stopping: " << fatal->message();
      server.Stop();
      return 1;
    }
  }
  server.Stop();
  LOG(INFO) << "stopped cleanly";
  return 0;
}
