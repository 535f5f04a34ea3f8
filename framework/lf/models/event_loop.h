// Internal (used by the single and reactor dispatchers). EventLoop: one HandleSet waited on by
// one thread, which processes every ready handler itself (a reactor). Other threads reach its
// handlers through notify()/post(), which write the HandleSet's wakeup eventfd.
// start/stop/join from the owner; stop() also from the loop's own thread.
#pragma once

#include <atomic>
#include <thread>

#include "lf/pattern/handle_set.h"

namespace lf {

class EventLoop {
 public:
  explicit EventLoop(Suspension suspension) : handle_set_(suspension) {}
  ~EventLoop();  // stops and joins
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void start();
  void stop() noexcept;
  void join();

  [[nodiscard]] HandleSet& handle_set() noexcept { return handle_set_; }
  // True when the calling thread is this loop's thread.
  [[nodiscard]] bool in_loop_thread() const noexcept;

 private:
  void loop();

  HandleSet handle_set_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace lf
