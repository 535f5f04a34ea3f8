// Public. TimerService: the timer wheel ticked by a timerfd registered in the HandleSet, so that
// timer callbacks run as ordinary events on ThreadSet threads (there is no timer thread). The
// Server owns one (Server::timers()). Thread safe; callbacks run one at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/pattern/event_handler.h"
#include "lf/timer/timer_wheel.h"

namespace lf {

class TimerService : public EventHandler {
 public:
  using Clock = TimerWheel::Clock;

  // Throws std::system_error if the timerfd cannot be created.
  explicit TimerService(Clock::duration tick = std::chrono::milliseconds(10));

  // As TimerWheel; the timerfd is moved earlier when a new timer is due before it.
  TimerId run_after(Clock::duration delay, TimerCallback callback);
  TimerId run_every(Clock::duration interval, TimerCallback callback);
  bool cancel(TimerId id) { return wheel_.cancel(id); }
  // O(1): for idle timeouts, postponed on every bit of traffic.
  bool touch(TimerId id, Clock::duration delay);
  [[nodiscard]] std::size_t size() const { return wheel_.size(); }
  // The server is stopping (Server::stop() says so before its connections drain). Timers still
  // fire; a callback that would start new work, such as a connect's next attempt, checks
  // draining() and gives up instead. Thread safe.
  void set_draining() noexcept { draining_.store(true, std::memory_order_release); }
  [[nodiscard]] bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }
  [[nodiscard]] Clock::duration tick() const noexcept { return wheel_.tick(); }

  [[nodiscard]] int handle() const noexcept override { return timer_fd_.get(); }
  // The timerfd expired: advance the wheel, run what is due, re-arm at the next deadline.
  void handle_event(std::uint32_t events) override;
  // Timers keep running while connections drain; the Server removes this handler last.
  void handle_drain() override {}
  void handle_close() override;

 private:
  // Arms the timerfd for `deadline` if nothing earlier is armed.
  void arm_if_earlier(Clock::time_point deadline);
  // Arms the timerfd for the wheel's next deadline (or disarms it).
  void rearm();
  void set_timer(Clock::time_point deadline);  // with arm_mutex_ held

  TimerWheel wheel_;
  // What advance() found due, kept between ticks so that firing allocates nothing (only this
  // handler's own run touches it, one at a time).
  std::vector<TimerCallback> due_;
  UniqueFd timer_fd_;
  std::mutex arm_mutex_;  // serialises timerfd_settime with the armed_ bookkeeping
  // What the timerfd is armed for, in Clock ticks; written under arm_mutex_, read without it to
  // skip the lock when a new deadline is later (the common case: idle timeouts move forward).
  // While the timer handler runs it holds "never", so that everyone takes the lock meanwhile.
  std::atomic<Clock::rep> armed_{Clock::time_point::max().time_since_epoch().count()};
  std::atomic<bool> draining_{false};
};

}  // namespace lf
