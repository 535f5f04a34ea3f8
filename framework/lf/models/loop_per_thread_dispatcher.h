// Internal (made by make_dispatcher). Event loops with one thread each (EventLoop).
// single: one loop holds the listeners, the timers and every connection.
// reactor (muduo's one loop per thread): the main loop holds the listeners and the timers; each
// accepted connection registers with one of N further loops, chosen round robin, and stays there.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "lf/models/dispatcher.h"
#include "lf/models/event_loop.h"

namespace lf {

class LoopPerThreadDispatcher final : public Dispatcher {
 public:
  // connection_loops: 0 for single (connections share the main loop), N for reactor.
  LoopPerThreadDispatcher(Model model, std::size_t connection_loops, Suspension suspension);

  [[nodiscard]] HandleSet& main_handle_set() noexcept override { return main_.handle_set(); }
  [[nodiscard]] HandleSet& handle_set_for_connection() noexcept override;
  [[nodiscard]] std::vector<HandleSet*> handle_sets() noexcept override;
  void start() override;
  void stop() override;
  void join() override;
  [[nodiscard]] std::size_t threads() const noexcept override { return 1 + loops_.size(); }
  [[nodiscard]] bool contains_this_thread() const noexcept override;

 private:
  EventLoop main_;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace lf
