// concordance: one node of a replicated, multi-tenant configuration store.
//
//   concordance --bootstrap --listen=127.0.0.1:4100 --data-dir=./data
//
// Every flag is listed by --help; they are spelled with dashes
// (--node-id, --snapshot-threshold) or underscores, as gflags accepts both.
#include <malloc.h>
#include <signal.h>

#include <cstdlib>

#include "concordance/node_server.h"
#include "gflags/gflags.h"
#include "glog/logging.h"

DEFINE_string(node_id, "", "this node's id (default: the one recorded in --data-dir, else node1)");
DEFINE_string(listen, "127.0.0.1:4100", "host:port to serve HTTP, WebSocket and peers on");
DEFINE_string(advertise, "", "host:port peers and redirected clients use (default: --listen)");
DEFINE_string(data_dir, "./data", "directory for raft.db and state.db");
DEFINE_bool(bootstrap, false, "start a new cluster with this node (ignored if --data-dir has state)");
DEFINE_string(join, "", "host:port of a cluster member to join through");
DEFINE_string(restore, "",
              "with --bootstrap on an empty data dir: start the new cluster from this backup "
              "(a file saved from GET /api/v1/snapshot)");
DEFINE_string(api_key, "", "key for full access (env CONCORDANCE_API_KEY)");
DEFINE_string(agent_key, "", "read-only key (env CONCORDANCE_AGENT_API_KEY)");
DEFINE_string(peer_key, "", "key peers present on /raft (default: the API key)");
DEFINE_int32(election_timeout_min_ms, 150, "election timeout, lower bound");
DEFINE_int32(election_timeout_max_ms, 300, "election timeout, upper bound");
DEFINE_int32(heartbeat_ms, 50, "leader heartbeat interval");
DEFINE_int32(tick_ms, 10, "Raft clock resolution");
DEFINE_int32(max_entries_per_append, 100, "entries per AppendEntries message");
DEFINE_uint64(snapshot_threshold, 10000, "entries applied between log compactions (state.db is the snapshot; an image is made only for a follower that needs one)");
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
DEFINE_uint64(ws_send_queue_messages, 4096,
              "messages queued for one /stream client before it is disconnected as too slow");
DEFINE_uint64(ws_send_queue_bytes, 64 << 20,
              "bytes queued for one /stream client before it is disconnected as too slow");

namespace {

std::string FlagOrEnv(const std::string& flag, const char* env) {
  if (!flag.empty()) return flag;
  const char* v = getenv(env);
  return v ? v : "";
}

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
  gflags::SetUsageMessage("concordance --bootstrap --listen=127.0.0.1:4100 --data-dir=./data");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
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
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  concordance::NodeOptions o;
  o.node_id = FLAGS_node_id;
  o.listen = FLAGS_listen;
  o.advertise = FLAGS_advertise;
  o.data_dir = FLAGS_data_dir;
  o.bootstrap = FLAGS_bootstrap;
  o.join = FLAGS_join;
  o.restore_from = FLAGS_restore;
  o.keys.api = FlagOrEnv(FLAGS_api_key, "CONCORDANCE_API_KEY");
  o.keys.agent = FlagOrEnv(FLAGS_agent_key, "CONCORDANCE_AGENT_API_KEY");
  o.keys.peer = FLAGS_peer_key;
  o.election_timeout_min_ms = FLAGS_election_timeout_min_ms;
  o.election_timeout_max_ms = FLAGS_election_timeout_max_ms;
  o.heartbeat_ms = FLAGS_heartbeat_ms;
  o.tick_ms = FLAGS_tick_ms;
  o.max_entries_per_append = FLAGS_max_entries_per_append;
  o.snapshot_threshold = FLAGS_snapshot_threshold;
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
  o.ws_send_queue_bytes = FLAGS_ws_send_queue_bytes;
  if (o.election_timeout_min_ms <= 0 || o.election_timeout_max_ms < o.election_timeout_min_ms ||
      o.heartbeat_ms <= 0 || o.heartbeat_ms >= o.election_timeout_min_ms || o.tick_ms <= 0) {
    LOG(ERROR) << "need 0 < --heartbeat-ms < --election-timeout-min-ms <= "
                  "--election-timeout-max-ms and --tick-ms > 0";
    return 2;
  }

  concordance::NodeServer server(o);
  absl::Status s = server.Start();
  if (!s.ok()) {
    LOG(ERROR) << "cannot start: " << s.message();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  LOG(INFO) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ", stopping";
  server.Stop();
  LOG(INFO) << "stopped cleanly";
  return 0;
}
