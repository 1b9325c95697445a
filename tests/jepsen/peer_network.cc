#include "tests/jepsen/peer_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include "tests/lib/fault_tally.h"

namespace concordance::jepsen {

using Clock = std::chrono::steady_clock;

struct PeerNetwork::Proxy {
  std::string id;
  int target_port = 0;
  int listen_fd = -1;
};

namespace {

constexpr size_t kMaxHead = 8192;
constexpr size_t kMaxQueued =
    4 << 20;  // stop reading a side whose bytes wait this much
constexpr auto kTick = std::chrono::milliseconds(50);

void SetNonBlocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// "GET /raft?nodeId=node2&… HTTP/1.1" → "node2"; "" for anything else.
std::string RaftDialer(const std::string& head) {
  const std::string prefix = "GET /raft?";
  if (head.compare(0, prefix.size(), prefix) != 0) return "";
  size_t end = head.find(' ', prefix.size());
  std::string query = head.substr(prefix.size(), end == std::string::npos
                                                     ? std::string::npos
                                                     : end - prefix.size());
  for (size_t pos = 0; pos < query.size();) {
    size_t amp = query.find('&', pos);
    std::string pair = query.substr(
        pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (pair.compare(0, 7, "nodeId=") == 0)
      return pair.substr(7);  // test ids need no decoding
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "";
}

// Bytes travelling one way, each chunk released at its due time.
struct Direction {
  int src = -1;
  int dst = -1;
  std::deque<std::pair<Clock::time_point, std::string>> queue;
  size_t written = 0;  // of the front chunk
  size_t queued = 0;
  Clock::time_point last_due{};
  bool open = true;

  void Push(Clock::time_point due, std::string bytes) {
    due = std::max(due, last_due);  // order holds within a connection
    last_due = due;
    queued += bytes.size();
    queue.emplace_back(due, std::move(bytes));
  }
  void Drop() {
    queue.clear();
    written = 0;
    queued = 0;
  }
  bool Due(Clock::time_point now) const {
    return !queue.empty() && queue.front().first <= now;
  }
  // Writes what is due; false when the destination is gone.
  bool Flush(Clock::time_point now) {
    while (Due(now)) {
      const std::string& chunk = queue.front().second;
      ssize_t n = send(dst, chunk.data() + written, chunk.size() - written,
                       MSG_NOSIGNAL);
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      written += static_cast<size_t>(n);
      if (written < chunk.size()) return true;
      queued -= chunk.size();
      queue.pop_front();
      written = 0;
    }
    return true;
  }
};

}  // namespace

class PeerNetwork::Connection {
 public:
  Connection(PeerNetwork* net, Proxy* proxy, int client)
      : net_(net), proxy_(proxy), client_(client) {}

  void Serve() {
    std::string head;
    if (!ReadRequestLine(&head)) return Close();
    from_ = RaftDialer(head);
    upstream_ = ConnectLoopback(proxy_->target_port);
    if (upstream_ < 0) return Close();
    SetNonBlocking(client_);
    SetNonBlocking(upstream_);
    Direction up{client_, upstream_}, down{upstream_, client_};
    up.Push(Due(), std::move(head));
    bool poisoned = false;
    while (!net_->stop_.load()) {
      if (!from_.empty()) {
        bool blocked = net_->Blocked(from_, proxy_->id);
        if (blocked && !poisoned) {
          poisoned = true;  // what was in flight is lost with the link
          up.Drop();
          down.Drop();
        }
        if (poisoned && !blocked) break;  // healed: the sender dials again
      }
      auto now = Clock::now();
      if (!up.Flush(now) || !down.Flush(now)) break;
      if (!up.open && up.queue.empty()) break;
      if (!down.open && down.queue.empty()) break;
      pollfd fds[2] = {{client_, 0, 0}, {upstream_, 0, 0}};
      if (up.open && up.queued < kMaxQueued) fds[0].events |= POLLIN;
      if (down.open && down.queued < kMaxQueued) fds[1].events |= POLLIN;
      if (up.Due(now)) fds[1].events |= POLLOUT;
      if (down.Due(now)) fds[0].events |= POLLOUT;
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kTick);
      for (const Direction* d : {&up, &down}) {
        if (!d->queue.empty() && d->queue.front().first > now) {
          wait = std::min(wait,
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              d->queue.front().first - now) +
                              std::chrono::milliseconds(1));
        }
      }
      if (poll(fds, 2, static_cast<int>(wait.count())) < 0 && errno != EINTR)
        break;
      if (!Read(fds[0], &up, poisoned) || !Read(fds[1], &down, poisoned)) break;
    }
    Close();
  }

 private:
  // The first line of the request, with a deadline.
  bool ReadRequestLine(std::string* head) {
    auto deadline = Clock::now() + std::chrono::seconds(2);
    char buf[1024];
    while (head->find("\r\n") == std::string::npos) {
      if (net_->stop_.load() || Clock::now() > deadline ||
          head->size() > kMaxHead)
        return false;
      pollfd p{client_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(kTick.count())) <= 0) continue;
      ssize_t n = recv(client_, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      head->append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  Clock::time_point Due() {
    return from_.empty() ? Clock::now() : Clock::now() + net_->NextDelay();
  }

  // Reads what `p` has for `d`; false on an error. An end of stream closes
  // that direction (the other drains, then the connection ends).
  bool Read(const pollfd& p, Direction* d, bool poisoned) {
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) return true;
    char buf[65536];
    ssize_t n = recv(p.fd, buf, sizeof(buf), 0);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) {
      d->open = false;
      return true;
    }
    if (poisoned) {
      net_->swallowed_ += n;
      return true;
    }
    d->Push(Due(), std::string(buf, static_cast<size_t>(n)));
    return true;
  }

  void Close() {
    if (client_ >= 0) close(client_);
    if (upstream_ >= 0) close(upstream_);
    client_ = upstream_ = -1;
  }

  PeerNetwork* net_;
  Proxy* proxy_;
  int client_;
  int upstream_ = -1;
  std::string from_;
};

PeerNetwork::PeerNetwork() = default;

PeerNetwork::~PeerNetwork() {
  stop_.store(true);
  std::vector<std::thread> threads;
  {
    absl::MutexLock l(&threads_mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  absl::MutexLock l(&threads_mu_);
  for (auto& p : proxies_) close(p->listen_fd);
}

std::string PeerNetwork::Add(const std::string& id, int port) {
  auto proxy = std::make_unique<Proxy>();
  proxy->id = id;
  proxy->target_port = port;
  proxy->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(proxy->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(proxy->listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(proxy->listen_fd, 64) != 0 ||
      getsockname(proxy->listen_fd, reinterpret_cast<sockaddr*>(&a), &len) !=
          0) {
    close(proxy->listen_fd);
    return "";
  }
  std::string flag =
      "--advertise=127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  absl::MutexLock l(&threads_mu_);
  Proxy* p = proxy.get();
  proxies_.push_back(std::move(proxy));
  threads_.emplace_back([this, p] { AcceptLoop(p); });
  return flag;
}

void PeerNetwork::AcceptLoop(Proxy* proxy) {
  while (!stop_.load()) {
    pollfd p{proxy->listen_fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(kTick.count())) <= 0) continue;
    int fd = accept(proxy->listen_fd, nullptr, nullptr);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ++connections_;
    absl::MutexLock l(&threads_mu_);
    threads_.emplace_back(
        [this, proxy, fd] { Connection(this, proxy, fd).Serve(); });
  }
}

void PeerNetwork::Block(const std::string& from, const std::string& to) {
  testing::fault_tally::Note("one-way link cut");
  absl::MutexLock l(&mu_);
  blocked_.insert({from, to});
}

void PeerNetwork::Partition(const std::vector<std::string>& a,
                            const std::vector<std::string>& b) {
  testing::fault_tally::Note("partition");
  absl::MutexLock l(&mu_);
  for (const std::string& x : a) {
    for (const std::string& y : b) {
      blocked_.insert({x, y});
      blocked_.insert({y, x});
    }
  }
}

void PeerNetwork::Heal() {
  absl::MutexLock l(&mu_);
  blocked_.clear();
}

void PeerNetwork::SetDelay(std::chrono::milliseconds base,
                           std::chrono::milliseconds jitter) {
  if (base.count() > 0 || jitter.count() > 0) testing::fault_tally::Note("delay and jitter");
  absl::MutexLock l(&mu_);
  delay_ = base;
  jitter_ = jitter;
}

bool PeerNetwork::Blocked(const std::string& from,
                          const std::string& to) const {
  absl::MutexLock l(&mu_);
  return blocked_.count({from, to}) > 0;
}

std::chrono::microseconds PeerNetwork::NextDelay() {
  absl::MutexLock l(&mu_);
  if (delay_.count() == 0 && jitter_.count() == 0)
    return std::chrono::microseconds(0);
  std::uniform_int_distribution<int64_t> u(
      0, std::chrono::microseconds(jitter_).count());
  return std::chrono::microseconds(delay_) + std::chrono::microseconds(u(rng_));
}

}  // namespace concordance::jepsen
