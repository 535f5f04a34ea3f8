#include "lf/models/half_sync_half_async_dispatcher.h"

#include <algorithm>

#include "lf/base/thread_name.h"
#include "lf/pattern/event_handler.h"

namespace lf {

namespace {
thread_local const HalfSyncHalfAsyncDispatcher* t_dispatcher = nullptr;
}  // namespace

HalfSyncHalfAsyncDispatcher::HalfSyncHalfAsyncDispatcher(std::size_t workers,
                                                         Suspension suspension)
    : Dispatcher(Model::kHalfSyncHalfAsync), handle_set_(suspension), worker_count_(workers) {}

HalfSyncHalfAsyncDispatcher::~HalfSyncHalfAsyncDispatcher() {
  stop();
  join();
}

void HalfSyncHalfAsyncDispatcher::start() {
  if (io_thread_.joinable()) return;
  workers_.reserve(worker_count_);
  for (std::size_t i = 0; i < worker_count_; ++i) workers_.emplace_back([this] { worker_main(); });
  io_thread_ = std::thread([this] { io_main(); });
}

void HalfSyncHalfAsyncDispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  handle_set_.wakeup();  // the I/O thread may be blocked in epoll_wait
}

void HalfSyncHalfAsyncDispatcher::join() {
  if (io_thread_.joinable()) io_thread_.join();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  std::lock_guard lock(mutex_);
  queue_.clear();  // left scheduled; the Server closes what is left
}

bool HalfSyncHalfAsyncDispatcher::contains_this_thread() const noexcept {
  return t_dispatcher == this;
}

void HalfSyncHalfAsyncDispatcher::enqueue(HandleSet::ReadyList& batch) {
  {
    std::lock_guard lock(mutex_);
    for (EventHandler* handler : batch) queue_.push(handler);
  }
  // One worker per handler, never more than there are workers.
  const std::size_t wake = std::min(batch.size(), worker_count_);
  for (std::size_t i = 0; i < wake; ++i) ready_.notify_one();
  batch.clear();
}

// The asynchronous half: demultiplexes only, never runs a handler.
void HalfSyncHalfAsyncDispatcher::io_main() {
  name_this_thread("lf-io");
  t_dispatcher = this;
  HandleSet::ReadyList batch;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (handle_set_.wait_for_event(batch, -1) > 0) enqueue(batch);
  }
}

// The synchronous half: processes queued handlers, blocking as long as a handler blocks.
void HalfSyncHalfAsyncDispatcher::worker_main() {
  name_this_thread("lf-worker");
  t_dispatcher = this;
  for (;;) {
    EventHandler* handler = nullptr;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      handler = queue_.pop();
    }
    if (run_handler(*handler)) {
      // Still busy after its rounds: to the back of the queue, still scheduled.
      std::lock_guard lock(mutex_);
      queue_.push(handler);
    }
  }
}

}  // namespace lf
