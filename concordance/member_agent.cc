#include "concordance/member_agent.h"

#include "absl/strings/str_cat.h"
#include "gateway/client.h"
#include "gateway/json.h"
#include "glog/logging.h"

namespace concordance {

MemberAgent::MemberAgent(Options options, NodeDriver* driver,
                         std::function<void(absl::Status)> on_fatal)
    : options_(std::move(options)), driver_(driver), on_fatal_(std::move(on_fatal)) {
  joined_ = options_.join.empty();
}

MemberAgent::~MemberAgent() { Stop(); }

void MemberAgent::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "member-agent");
    Run();
  });
}

void MemberAgent::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool MemberAgent::Stopping() const {
  std::lock_guard<std::mutex> l(mu_);
  return stopping_;
}

bool MemberAgent::Sleep(int ms) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

bool MemberAgent::NeedsRequest(std::vector<std::string>* targets) const {
  targets->clear();
  // --join first; then the members this node knows, should that one have
  // moved or gone since (a restart with a stale --join).
  if (!joined_) targets->push_back(options_.join);
  NodeStatus n = driver_->Status();
  bool moved = false;
  for (const raft::MemberStatus& m : n.members) {
    if (m.member.node_id() == options_.node_id) {
      moved = m.member.address() != options_.advertise;
    } else {
      targets->push_back(m.member.address());
    }
  }
  // We may lead ourselves: our own server proposes, or redirects.
  targets->push_back(options_.advertise);
  return !joined_ || moved;
}

absl::Status MemberAgent::Ask(const std::string& first_target, bool* permanent) const {
  *permanent = false;
  rapidjson::StringBuffer buf;
  gateway::JsonWriter w(buf);
  w.StartObject();
  gateway::Key(w, "nodeId");
  gateway::String(w, options_.node_id);
  gateway::Key(w, "address");
  gateway::String(w, options_.advertise);
  w.EndObject();
  std::string body(buf.GetString(), buf.GetSize());
  std::vector<std::pair<std::string, std::string>> headers;
  if (!options_.api_key.empty()) headers.emplace_back("Authorization", "Bearer " + options_.api_key);
  std::string target = first_target;
  for (int hop = 0; hop < 4 && !Stopping(); ++hop) {
    absl::StatusOr<gateway::HttpReply> r =
        gateway::HttpCall(target, "POST", "/api/v1/cluster/join", body, headers, 2000,
                          options_.tls.get());
    if (!r.ok()) return r.status();
    if (r->status == 307 && r->headers.count("location")) {
      // http://host:port/path -> host:port
      std::string loc = r->headers["location"];
      size_t start = loc.find("//");
      start = start == std::string::npos ? 0 : start + 2;
      target = loc.substr(start, loc.find('/', start) - start);
      continue;
    }
    if (r->status == 200) return absl::OkStatus();
    *permanent = r->status == 400 || r->status == 401 || r->status == 403;
    std::string text = gateway::SafeText(r->body.substr(0, 512));
    if (r->status == 401 || r->status == 403) {
      return absl::PermissionDeniedError(absl::StrCat(
          target, " refused this node's key (HTTP ", r->status, "): --api-key must be the "
          "cluster's API key to join or change a member's address. ", text));
    }
    return absl::UnavailableError(absl::StrCat(target, " answered HTTP ", r->status, ": ", text));
  }
  return absl::UnavailableError(absl::StrCat("too many redirects from ", first_target));
}

void MemberAgent::Run() {
  int delay_ms = 100;
  std::vector<std::string> targets;
  while (NeedsRequest(&targets)) {
    std::string outcome;
    for (const std::string& target : targets) {
      if (Stopping()) return;
      bool permanent = false;
      absl::Status s = Ask(target, &permanent);
      if (s.ok()) {
        LOG(INFO) << (joined_ ? "address of " : "joined the cluster as ") << options_.node_id
                  << (joined_ ? " updated to " + options_.advertise : "") << " through "
                  << target;
        if (joined_) return;  // the address change is committed
        joined_ = true;
        outcome.clear();
        break;
      }
      if (permanent) {
        LOG(ERROR) << "cannot " << (joined_ ? "update this node's address" : "join the cluster")
                   << ": " << s.message();
        on_fatal_(s);
        return;
      }
      absl::StrAppend(&outcome, outcome.empty() ? "" : "; ", s.message());
    }
    if (outcome.empty()) continue;  // joined: check the address next
    LOG(WARNING) << (joined_ ? "address update" : "join through " + options_.join)
                 << " not done yet (" << outcome << "); retrying in " << delay_ms << " ms";
    if (!Sleep(delay_ms)) return;
    delay_ms = std::min(delay_ms * 2, 5000);
  }
}

}  // namespace concordance
