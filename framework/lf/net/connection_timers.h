// Internal. ConnectionTimers: the timers a StreamConnection's handler starts (start_timer,
// start_periodic), each with its own callback. The wheel only queues a firing here and wakes the
// connection; the callback then runs on the connection's owner, like its other hooks. Start and
// cancel are thread safe; run_due() and close() belong to the owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "lf/timer/timer_wheel.h"

namespace lf {

class EventHandler;
class TimerService;

class ConnectionTimers {
 public:
  using Clock = std::chrono::steady_clock;

  // `owner` is woken with event::kTimer when a timer fires; its weak_ptr keeps the wheel's
  // callbacks from reaching a connection that is gone.
  explicit ConnectionTimers(EventHandler& owner) noexcept : owner_(owner) {}
  ConnectionTimers(const ConnectionTimers&) = delete;
  ConnectionTimers& operator=(const ConnectionTimers&) = delete;

  // Set once, before the owner is registered (StreamConnection::open).
  void attach(TimerService* service) noexcept { service_ = service; }

  // Thread safe. Fires once after `delay`, or (periodic) every `delay` until cancelled. An
  // invalid id for an empty callback, without a timer service, or once closed. Allocates only
  // here (the callback, and the table when it grows): a firing allocates nothing. Throws
  // std::invalid_argument for a periodic timer with a non-positive interval.
  TimerId start(Clock::duration delay, bool periodic, std::function<void()> callback);
  // Thread safe. True if the timer was live and its callback will not run (again). A one-shot
  // whose callback has started, a stale id, or an id of another connection: false.
  bool cancel(TimerId id);

  // Owner only. Runs the callbacks of the timers that fired, in firing order, each once per
  // queued firing. A periodic timer that fires again before its callback ran is queued once.
  void run_due();
  // Owner only, at close: cancels every timer; starting one afterwards does nothing.
  void close();

 private:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  // The most callbacks one run_due() runs before the owner's other work gets a turn.
  static constexpr int kMaxPerRun = 64;

  struct Entry {
    std::function<void()> callback;  // empty while free, or while its periodic callback runs
    TimerId wheel_id;                // on the TimerService; invalid until start() has it
    std::uint32_t generation = 1;    // bumped when freed, so stale ids miss; never 0
    std::uint32_t prev = kNone;      // the due list (doubly linked: cancel unlinks in O(1))
    std::uint32_t next = kNone;      // ... or the free list
    bool live = false;
    bool periodic = false;
    bool due = false;
  };

  // The wheel's callback: queues the firing. True when the queue was empty, so the owner must be
  // woken (a firing queued behind others is run by the same wake-up).
  [[nodiscard]] bool queue_firing(TimerId id);
  // A periodic callback returned: it goes back to its entry unless the timer was cancelled.
  void put_back(TimerId id, std::function<void()>& callback);
  // With mutex_ held.
  [[nodiscard]] bool is_live(TimerId id) const noexcept;
  std::uint32_t allocate();
  // Frees a live entry; its callback is moved to `doomed`, destroyed outside the lock.
  void release(std::uint32_t index, std::function<void()>& doomed) noexcept;
  void link_due(std::uint32_t index) noexcept;
  void unlink_due(std::uint32_t index) noexcept;

  EventHandler& owner_;
  TimerService* service_ = nullptr;
  std::mutex mutex_;  // guards everything below
  std::vector<Entry> entries_;
  std::uint32_t free_ = kNone;
  std::uint32_t due_head_ = kNone;
  std::uint32_t due_tail_ = kNone;
  bool closed_ = false;
};

}  // namespace lf
