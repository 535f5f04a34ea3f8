#include "lf/models/event_loop.h"

#include "lf/base/thread_name.h"
#include "lf/models/dispatcher.h"
#include "lf/pattern/event_handler.h"

namespace lf {

namespace {
thread_local const EventLoop* t_loop = nullptr;
}  // namespace

EventLoop::~EventLoop() {
  stop();
  join();
}

void EventLoop::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void EventLoop::stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  handle_set_.wakeup();
}

void EventLoop::join() {
  if (thread_.joinable()) thread_.join();
}

bool EventLoop::in_loop_thread() const noexcept { return t_loop == this; }

void EventLoop::loop() {
  name_this_thread("lf-loop");
  t_loop = this;
  HandleSet::ReadyList batch;
  while (!stopping_.load(std::memory_order_acquire)) {
    handle_set_.wait_for_event(batch, -1);
    for (EventHandler* handler : batch) {
      // A handler still busy after its rounds waits behind the others (fairness).
      if (Dispatcher::run_handler(*handler)) handle_set_.post_again(*handler);
    }
    batch.clear();
  }
  // Handlers fetched but not run stay scheduled; the Server closes what is left after join().
}

}  // namespace lf
