// HangupWatcher: tells when sockets hang up, without reading them. Each
// socket is registered with epoll for no event at all, so only what epoll
// always reports — EPOLLHUP (both directions shut down) and EPOLLERR — wakes
// the watcher, never the data that arrives for the socket's real reader.
// The one-port server uses it for connections it handed to gRPC: gRPC shuts
// a socket down before it closes it, so a kept duplicate descriptor sees
// the end of the connection. One thread; thread-safe.
#ifndef CONCORDANCE_GATEWAY_HANGUP_WATCHER_H_
#define CONCORDANCE_GATEWAY_HANGUP_WATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace concordance::gateway {

class HangupWatcher {
 public:
  HangupWatcher() = default;
  ~HangupWatcher();
  HangupWatcher(const HangupWatcher&) = delete;
  HangupWatcher& operator=(const HangupWatcher&) = delete;

  absl::Status Start();
  // Stops the thread; sockets still watched are closed, their callbacks
  // dropped uncalled.
  void Stop();

  // Takes `fd` (a duplicate: it is closed, never shut down) and calls
  // `on_hangup` once, on the watcher's thread, when its connection ends.
  // Returns an id for Forget.
  absl::StatusOr<uint64_t> Watch(int fd, std::function<void()> on_hangup);
  // Stops watching `id` and closes its descriptor; its callback is not
  // called (unless it is running already). Unknown ids are ignored.
  void Forget(uint64_t id);

 private:
  struct Entry {
    int fd;
    std::function<void()> on_hangup;
  };
  void Run();
  // Removes `id` (its descriptor leaves epoll before it is closed: a
  // duplicate elsewhere would keep a stale registration alive).
  std::function<void()> Remove(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd that stops the thread
  std::thread thread_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_HANGUP_WATCHER_H_
