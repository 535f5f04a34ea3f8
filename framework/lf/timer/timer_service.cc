#include "lf/timer/timer_service.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <system_error>
#include <vector>

#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/pattern/handle_set.h"

namespace lf {

namespace {
constexpr auto kNever = std::chrono::hours(24 * 365 * 100);
}  // namespace

TimerService::TimerService(Clock::duration tick)
    : wheel_(tick), timer_fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!timer_fd_) throw std::system_error(errno, std::generic_category(), "timerfd_create");
}

TimerId TimerService::run_after(Clock::duration delay, TimerCallback callback) {
  // One clock read for both; delays beyond a century are "never" and must not overflow.
  const Clock::time_point deadline = Clock::now() + std::min<Clock::duration>(delay, kNever);
  const TimerId id = wheel_.run_at(deadline, std::move(callback));
  arm_if_earlier(deadline);
  return id;
}

TimerId TimerService::run_every(Clock::duration interval, TimerCallback callback) {
  const TimerId id = wheel_.run_every(interval, std::move(callback));
  arm_if_earlier(Clock::now() + interval);
  return id;
}

// The timer is on the wheel before the lock is taken, and rearm() reads the wheel under the
// lock: so either rearm() saw the new timer, or this call sees what rearm() armed.
bool TimerService::touch(TimerId id, Clock::duration delay) {
  if (!wheel_.touch(id, delay)) return false;
  arm_if_earlier(Clock::now() + std::min<Clock::duration>(delay, kNever));
  return true;
}

void TimerService::arm_if_earlier(Clock::time_point deadline) {
  // The wheel fires on tick boundaries: waking before one would find nothing due.
  deadline = wheel_.round_up_to_tick(deadline);
  const Clock::rep ticks = deadline.time_since_epoch().count();
  if (ticks >= armed_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(arm_mutex_);
  if (ticks < armed_.load(std::memory_order_relaxed)) set_timer(deadline);
}

void TimerService::rearm() {
  std::lock_guard lock(arm_mutex_);
  set_timer(wheel_.next_deadline().value_or(Clock::time_point::max()));
}

void TimerService::set_timer(Clock::time_point deadline) {
  armed_.store(deadline.time_since_epoch().count(), std::memory_order_release);
  itimerspec spec{};
  if (deadline != Clock::time_point::max()) {
    // steady_clock is CLOCK_MONOTONIC on Linux: the deadline is an absolute timerfd time. A
    // deadline already passed fires at once.
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        deadline.time_since_epoch())
                        .count();
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  ::timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void TimerService::handle_event(std::uint32_t /*events*/) {
  std::uint64_t expirations = 0;
  [[maybe_unused]] const auto n = ::read(timer_fd_.get(), &expirations, sizeof expirations);
  {
    // Until rearm(), a new deadline cannot be compared with what is armed: make it take the lock.
    std::lock_guard lock(arm_mutex_);
    armed_.store(Clock::time_point::max().time_since_epoch().count(), std::memory_order_release);
  }
  due_.clear();  // left over if a callback threw something that is not a std::exception
  wheel_.advance(Clock::now(), due_);
  for (TimerCallback& callback : due_) {
    try {
      callback();
    } catch (const std::exception& error) {
      LF_LOG_ERROR("timer callback threw: {}", error.what());
    }
  }
  metrics::add(metrics::Counter::kTimersFired, due_.size());
  due_.clear();
  rearm();
}

void TimerService::handle_close() {
  if (HandleSet* set = handle_set()) set->remove_handle(*this);
}

}  // namespace lf
