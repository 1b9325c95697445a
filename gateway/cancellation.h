// Cancellation: lets work that waits on a client's behalf (a long-poll)
// learn that the client went away, so it can release what it holds at once
// instead of when the wait ends.
//
// The connection creates one per request. The work that may wait long
// registers a callback (OnCancel), which arms it: only then does the
// connection watch its socket for the client's close, and Cancel() runs the
// callback. Thread-safe; the callback runs at most once, on the thread that
// cancels (or registers, if already cancelled), under no lock.
#ifndef CONCORDANCE_GATEWAY_CANCELLATION_H_
#define CONCORDANCE_GATEWAY_CANCELLATION_H_

#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace concordance::gateway {

class Cancellation {
 public:
  // `on_armed` runs once, on the registering thread, when OnCancel is first
  // called (the connection starts watching for a close then).
  explicit Cancellation(std::function<void()> on_armed = nullptr)
      : on_armed_(std::move(on_armed)) {}
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  void OnCancel(std::function<void()> fn) {
    std::function<void()> armed;
    {
      absl::MutexLock l(&mu_);
      if (!cancelled_) {
        fn_ = std::move(fn);
        armed = std::exchange(on_armed_, nullptr);
      }
    }
    if (armed) {
      armed();
    } else if (cancelled()) {
      fn();
    }
  }

  void Cancel() {
    std::function<void()> fn;
    {
      absl::MutexLock l(&mu_);
      if (cancelled_) return;
      cancelled_ = true;
      fn = std::exchange(fn_, nullptr);
      on_armed_ = nullptr;
    }
    if (fn) fn();
  }

  bool cancelled() const {
    absl::MutexLock l(&mu_);
    return cancelled_;
  }

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> fn_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_armed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_CANCELLATION_H_
