#include "tests/lib/node.h"

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/lib/fault_tally.h"

namespace concordance::testing {

TestNode::TestNode(std::string name)
    : name_(std::move(name)), port_(FreePort()), data_dir_(MakeTempDir("data-" + name_)) {
  log_path_ = data_dir_ + ".log";
  http_ = std::make_unique<HttpClient>("127.0.0.1", port_);
}

void TestNode::UseNewPort() {
  port_ = FreePort();
  http_ = std::make_unique<HttpClient>("127.0.0.1", port_, tls_);
}

void TestNode::UseTls(TlsClientFiles files) {
  tls_ = std::move(files);
  http_ = std::make_unique<HttpClient>("127.0.0.1", port_, tls_);
}

int64_t TestNode::RssBytes() const {
  if (!process_ || process_->pid() <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(process_->pid()) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

std::optional<double> TestNode::Metric(const std::string& series,
                                       const std::map<std::string, std::string>& headers) {
  HttpResult r = http_->Request("GET", "/metrics", "", headers);
  if (r.status != 200) return std::nullopt;
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

bool TestNode::Start(const std::vector<std::string>& flags, const std::vector<std::string>& env) {
  flags_ = flags;
  std::vector<std::string> args = {"--listen=127.0.0.1:" + std::to_string(port_),
                                   "--data-dir=" + data_dir_};
  args.insert(args.end(), flags.begin(), flags.end());
  // The log file is appended across restarts: look only at this run's part.
  const size_t log_from = log().size();
  process_ = std::make_unique<Process>();
  if (!process_->Start(ConcordanceBinary(), args, log_path_, env)) return false;
  // Up means this process bound the port (its log says so) and answers:
  // a health answer alone could come from someone else's process.
  const std::string serving = "serving on 127.0.0.1:" + std::to_string(port_) + " ";
  bool up = WaitFor(
      [&] {
        if (!process_->running()) return true;
        if (log().find(serving, log_from) == std::string::npos) return false;
        return http_->Request("GET", "/api/v1/health", "", {}, std::chrono::milliseconds(500)).status == 200;
      },
      std::chrono::seconds(15));
  if (!up || !process_->running()) {
    fprintf(stderr, "node %s did not start; log:\n%s\n", name_.c_str(), log().c_str());
    return false;
  }
  return true;
}

bool TestNode::WaitReady(std::chrono::milliseconds timeout) {
  return WaitFor(
      [this] {
        return http_->Request("GET", "/api/v1/ready", "", {}, std::chrono::milliseconds(500)).status == 200;
      },
      timeout);
}

int TestNode::Stop(std::chrono::milliseconds timeout) {
  if (!process_) return -1;
  process_->Signal(SIGTERM);
  return process_->Wait(timeout);
}

void TestNode::Signal(int sig) {
  if (sig == SIGSTOP) fault_tally::Note("SIGSTOP");
  process_->Signal(sig);
}

void TestNode::Kill() {
  if (!process_) return;
  fault_tally::Note("kill -9");
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(10));
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError()) d.SetObject();
  return d;
}

std::string JsonString(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int64_t JsonInt(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return -1;
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsInt64()) return -1;
  return it->value.GetInt64();
}

}  // namespace concordance::testing
