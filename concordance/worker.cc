#include "concordance/worker.h"

#include <pthread.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

namespace concordance {

namespace net = boost::asio;

struct Worker::Impl {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{net::make_work_guard(ioc)};
  std::thread thread;
  std::atomic<bool> stopped{false};
};

Worker::Worker(std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([this, name = std::move(name)] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    impl_->ioc.run();
  });
}

Worker::~Worker() { Stop(); }

void Worker::Post(std::function<void()> fn) {
  if (impl_->stopped.load()) return;
  net::post(impl_->ioc, std::move(fn));
}

void Worker::RunAfter(int delay_ms, std::function<void()> fn) {
  if (impl_->stopped.load()) return;
  auto timer = std::make_shared<net::steady_timer>(impl_->ioc, std::chrono::milliseconds(delay_ms));
  timer->async_wait([this, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec && !impl_->stopped.load()) fn();
  });
}

void Worker::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopped = true;
  impl_->work.reset();
  // Pending timers would keep run() going: stop once the queue is drained.
  net::post(impl_->ioc, [this] { impl_->ioc.stop(); });
  impl_->thread.join();
}

bool Worker::on_worker_thread() const {
  return impl_->thread.get_id() == std::this_thread::get_id();
}

}  // namespace concordance
