#include "lf/models/loop_per_thread_dispatcher.h"

namespace lf {

LoopPerThreadDispatcher::LoopPerThreadDispatcher(Model model, std::size_t connection_loops,
                                                 Suspension suspension)
    : Dispatcher(model), main_(suspension) {
  loops_.reserve(connection_loops);
  for (std::size_t i = 0; i < connection_loops; ++i) {
    loops_.push_back(std::make_unique<EventLoop>(suspension));
  }
}

HandleSet& LoopPerThreadDispatcher::handle_set_for_connection() noexcept {
  if (loops_.empty()) return main_.handle_set();
  const std::size_t next = next_.fetch_add(1, std::memory_order_relaxed);
  return loops_[next % loops_.size()]->handle_set();
}

std::vector<HandleSet*> LoopPerThreadDispatcher::handle_sets() noexcept {
  std::vector<HandleSet*> sets{&main_.handle_set()};
  for (const auto& loop : loops_) sets.push_back(&loop->handle_set());
  return sets;
}

void LoopPerThreadDispatcher::start() {
  for (const auto& loop : loops_) loop->start();
  main_.start();
}

void LoopPerThreadDispatcher::stop() {
  main_.stop();
  for (const auto& loop : loops_) loop->stop();
}

void LoopPerThreadDispatcher::join() {
  main_.join();
  for (const auto& loop : loops_) loop->join();
}

bool LoopPerThreadDispatcher::contains_this_thread() const noexcept {
  if (main_.in_loop_thread()) return true;
  for (const auto& loop : loops_) {
    if (loop->in_loop_thread()) return true;
  }
  return false;
}

}  // namespace lf
