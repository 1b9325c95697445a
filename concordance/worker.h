// Worker: one named thread that runs posted tasks and timers in order, for
// work that must stay off the Raft loop and the I/O threads (watch fan-out
// and replays, long-poll queries, state hashing, backups).
#ifndef CONCORDANCE_CONCORDANCE_WORKER_H_
#define CONCORDANCE_CONCORDANCE_WORKER_H_

#include <functional>
#include <memory>
#include <string>

namespace concordance {

class Worker {
 public:
  // Starts the thread, named `name` (at most 15 characters show in ps).
  explicit Worker(std::string name);
  // Stop()s.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs `fn` on the worker thread, after everything posted before it.
  // Tasks posted after Stop() are dropped.
  void Post(std::function<void()> fn);
  // Runs `fn` on the worker thread after `delay_ms` (not if stopped first).
  void RunAfter(int delay_ms, std::function<void()> fn);
  // Runs what is queued, then joins the thread. Idempotent.
  void Stop();
  bool on_worker_thread() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_WORKER_H_
