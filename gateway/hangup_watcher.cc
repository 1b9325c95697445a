#include "gateway/hangup_watcher.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace concordance::gateway {

namespace {
constexpr uint64_t kWakeId = 0;  // ids of watched sockets start at 1
}  // namespace

HangupWatcher::~HangupWatcher() { Stop(); }

absl::Status HangupWatcher::Start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create the hang-up watcher: ", strerror(errno)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot create the hang-up watcher: ", strerror(errno)));
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "grpc-links");
    Run();
  });
  return absl::OkStatus();
}

void HangupWatcher::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  std::vector<std::function<void()>> dropped;  // destroyed outside the lock
  absl::MutexLock l(&mu_);
  while (!entries_.empty()) dropped.push_back(Remove(entries_.begin()->first));
  for (int* fd : {&wake_fd_, &epoll_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

absl::StatusOr<uint64_t> HangupWatcher::Watch(int fd,
                                              std::function<void()> on_hangup) {
  absl::MutexLock l(&mu_);
  uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = 0;  // EPOLLHUP and EPOLLERR only: epoll reports them regardless
  ev.data.u64 = id;
  if (epoll_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = errno;
    close(fd);
    return absl::InternalError(
        absl::StrCat("cannot watch a connection: ", strerror(e)));
  }
  entries_[id] = Entry{fd, std::move(on_hangup)};
  return id;
}

void HangupWatcher::Forget(uint64_t id) {
  std::function<void()> dropped;  // destroyed outside the lock
  absl::MutexLock l(&mu_);
  dropped = Remove(id);
}

std::function<void()> HangupWatcher::Remove(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return nullptr;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  close(it->second.fd);
  std::function<void()> cb = std::move(it->second.on_hangup);
  entries_.erase(it);
  return cb;
}

void HangupWatcher::Run() {
  epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epoll_fd_, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Not expected (the descriptors are ours): say so, since the slots of
      // gRPC connections are no longer released from here on.
      LOG(ERROR) << "the hang-up watcher stops: epoll_wait: "
                 << strerror(errno);
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeId) return;
      std::function<void()> cb;
      {
        absl::MutexLock l(&mu_);
        cb = Remove(events[i].data.u64);
      }
      if (cb) cb();
    }
  }
}

}  // namespace concordance::gateway
