// Public. Dispatcher: the threads and HandleSets that run a Server's handlers under one
// concurrency model (model.h). The Server composes one; handlers never see it. Every model keeps
// the EventHandler rules: a handler runs on one thread at a time, its events are never lost.
// start/stop/join are for the Server; the rest is thread safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "lf/models/model.h"
#include "lf/pattern/handle_set.h"
#include "lf/pattern/thread_set.h"

namespace lf {

class EventHandler;

// Extends the ThreadSet's options (not a copy of them), so that a setting is written once and
// reaches the layer that uses it as is: ServerOptions extends these in turn. `threads` counts
// lf's ThreadSet, reactor's sub-loops (plus one acceptor loop) or hsha's workers (plus one I/O
// thread); single ignores it. The rest of ThreadSetOptions applies to the lf models only, and the
// model sets follower_spin (lf-spin, if 0) and hand_off (lf-handoff) itself.
struct DispatcherOptions : ThreadSetOptions {
  Model model = kDefaultModel;
  Suspension suspension = Suspension::kOneShot;  // lf-et forces kEdgeTriggered
};

class Dispatcher {
 public:
  // lf-spin's polls before a follower sleeps: tens of microseconds, about one sleeping wakeup.
  static constexpr int kDefaultFollowerSpin = 2000;

  virtual ~Dispatcher() = default;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Where listeners and the TimerService register.
  [[nodiscard]] virtual HandleSet& main_handle_set() noexcept = 0;
  // Where a newly accepted connection registers (reactor: the next loop, round robin).
  [[nodiscard]] virtual HandleSet& handle_set_for_connection() noexcept { return main_handle_set(); }
  // Every HandleSet, the main one first.
  [[nodiscard]] virtual std::vector<HandleSet*> handle_sets() noexcept { return {&main_handle_set()}; }

  virtual void start() = 0;
  // Asks every thread to leave once its current handler returns. Any thread.
  virtual void stop() = 0;
  // Waits for every thread to leave. Not from a dispatcher thread.
  virtual void join() = 0;

  [[nodiscard]] virtual std::size_t threads() const noexcept = 0;
  [[nodiscard]] virtual bool contains_this_thread() const noexcept = 0;
  // The Leader/Followers models' ThreadSet (states, stats, growth); null under the others.
  [[nodiscard]] virtual ThreadSet* thread_set() noexcept { return nullptr; }
  [[nodiscard]] Model model() const noexcept { return model_; }

 protected:
  explicit Dispatcher(Model model) noexcept : model_(model) {}
  // Processes a handler taken from a HandleSet: its pending events until none are left. True when
  // it is still busy and must be queued again (it stays scheduled). Counts the run.
  static bool run_handler(EventHandler& handler);

 private:
  friend class EventLoop;  // a dispatcher's building block
  Model model_;
};

// The dispatcher of options.model. Throws std::system_error if epoll or eventfd fail.
[[nodiscard]] std::unique_ptr<Dispatcher> make_dispatcher(const DispatcherOptions& options);

}  // namespace lf
