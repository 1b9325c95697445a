// TestNode: one real `concordance` process on a loopback port with its own
// data dir, for tests that speak to it over the wire.
#ifndef CONCORDANCE_TESTS_LIB_NODE_H_
#define CONCORDANCE_TESTS_LIB_NODE_H_

#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/lib/clients.h"
#include "tests/lib/process.h"

namespace concordance::testing {

class TestNode {
 public:
  // `name` labels the log file; the port and data dir are fresh.
  explicit TestNode(std::string name);

  // Starts the binary with --listen, --data-dir and `flags` (and `env`,
  // NAME=value entries); waits until /api/v1/health answers. False (with
  // the log printed) otherwise.
  bool Start(const std::vector<std::string>& flags, const std::vector<std::string>& env = {});
  // Takes a new port for the next Start (the data dir stays).
  void UseNewPort();
  // Speak https:// to this node from now on (its flags must turn TLS on).
  void UseTls(TlsClientFiles files);
  // Waits until /api/v1/ready answers 200.
  bool WaitReady(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // SIGTERM and wait; returns the wait status (-1 on timeout).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  void Kill();  // SIGKILL and reap
  void Signal(int sig);  // SIGSTOP and SIGCONT are noted as faults
  bool running() { return process_ && process_->running(); }

  HttpClient& http() { return *http_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Resident memory of the running process (VmRSS), in bytes; -1 if gone.
  int64_t RssBytes() const;
  // The value of one sample of /metrics, e.g. "concordance_raft_term" or
  // `concordance_websocket_connections{path="/stream"}`; nullopt if absent.
  std::optional<double> Metric(const std::string& series,
                               const std::map<std::string, std::string>& headers = {});
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  std::string log() const { return process_ ? process_->ReadLog() : ""; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int port_;
  std::string data_dir_;
  std::string log_path_;
  std::vector<std::string> flags_;
  std::unique_ptr<Process> process_;
  std::optional<TlsClientFiles> tls_;
  std::unique_ptr<HttpClient> http_;
};

// Parses JSON for assertions (an empty document on error).
rapidjson::Document ParseJson(const std::string& text);
// doc[name] as a string/int, or "" / -1 when absent or of another type.
std::string JsonString(const rapidjson::Value& v, const char* name);
int64_t JsonInt(const rapidjson::Value& v, const char* name);

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_LIB_NODE_H_
