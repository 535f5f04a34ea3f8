#include "lf/net/connection_timers.h"

#include <utility>

#include "lf/pattern/event_handler.h"
#include "lf/timer/timer_service.h"

namespace lf {

TimerId ConnectionTimers::start(Clock::duration delay, bool periodic,
                                std::function<void()> callback) {
  if (service_ == nullptr || !callback) return {};
  TimerId id;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return {};
    id.index = allocate();
    Entry& entry = entries_[id.index];
    entry.callback = std::move(callback);
    entry.periodic = periodic;
    entry.live = true;
    id.generation = entry.generation;
  }
  // A weak_ptr, this and the id fit in TimerCallback's inline storage: no allocation on the wheel.
  TimerCallback on_fire = [owner = owner_.weak_from_this(), this, id] {
    if (auto alive = owner.lock(); alive && queue_firing(id)) alive->notify(event::kTimer);
  };
  TimerId wheel_id;
  try {
    wheel_id = periodic ? service_->run_every(delay, std::move(on_fire))
                        : service_->run_after(delay, std::move(on_fire));
  } catch (...) {
    std::function<void()> doomed;
    std::lock_guard lock(mutex_);
    if (is_live(id)) release(id.index, doomed);
    throw;
  }
  bool closed = false;
  {
    // The wheel id is stored once the wheel has it: a cancel or close in between found none,
    // and the wheel's timer is cancelled here instead.
    std::lock_guard lock(mutex_);
    if (is_live(id)) {
      entries_[id.index].wheel_id = wheel_id;
      return id;
    }
    closed = closed_;
  }
  service_->cancel(wheel_id);
  // Closed meanwhile: as promised, an invalid id. (Otherwise a one-shot fired already: its id.)
  return closed ? TimerId{} : id;
}

bool ConnectionTimers::cancel(TimerId id) {
  std::function<void()> doomed;  // destroyed after the lock: its captures may call us
  TimerId wheel_id;
  {
    std::lock_guard lock(mutex_);
    if (!is_live(id)) return false;
    if (entries_[id.index].due) unlink_due(id.index);
    wheel_id = entries_[id.index].wheel_id;
    release(id.index, doomed);
  }
  if (wheel_id.valid()) service_->cancel(wheel_id);
  return true;
}

bool ConnectionTimers::queue_firing(TimerId id) {
  std::lock_guard lock(mutex_);
  if (!is_live(id) || entries_[id.index].due) return false;
  const bool was_empty = due_head_ == kNone;
  link_due(id.index);
  return was_empty;
}

void ConnectionTimers::run_due() {
  for (int run = 0; run < kMaxPerRun; ++run) {
    std::function<void()> callback;
    TimerId id;
    bool periodic = false;
    {
      std::lock_guard lock(mutex_);
      if (due_head_ == kNone) return;
      id.index = due_head_;
      unlink_due(id.index);
      Entry& entry = entries_[id.index];
      id.generation = entry.generation;
      periodic = entry.periodic;
      // A periodic timer stays live while its callback runs, so that the callback (or another
      // thread) can cancel it; a one-shot ends as its callback starts.
      if (periodic) {
        callback = std::exchange(entry.callback, nullptr);
      } else {
        release(id.index, callback);
      }
    }
    if (!callback) continue;  // a periodic callback that threw earlier (the connection closes)
    callback();
    if (periodic) put_back(id, callback);
  }
  // More firings than one turn runs: the rest after the owner's other events.
  bool more = false;
  {
    std::lock_guard lock(mutex_);
    more = due_head_ != kNone;
  }
  if (more) owner_.notify(event::kTimer);
}

void ConnectionTimers::put_back(TimerId id, std::function<void()>& callback) {
  std::lock_guard lock(mutex_);
  if (is_live(id)) entries_[id.index].callback = std::move(callback);
  // Otherwise it was cancelled while it ran: the caller's copy is destroyed after the lock.
}

void ConnectionTimers::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;  // no timer starts from here on
  }
  // One entry per lock, so that each callback is destroyed and each wheel timer cancelled
  // outside it.
  for (std::uint32_t index = 0;; ++index) {
    std::function<void()> doomed;
    TimerId wheel_id;
    {
      std::lock_guard lock(mutex_);
      if (index >= entries_.size()) break;
      Entry& entry = entries_[index];
      if (!entry.live) continue;
      if (entry.due) unlink_due(index);
      wheel_id = entry.wheel_id;
      release(index, doomed);
    }
    if (wheel_id.valid()) service_->cancel(wheel_id);
  }
}

bool ConnectionTimers::is_live(TimerId id) const noexcept {
  return id.index < entries_.size() && entries_[id.index].live &&
         entries_[id.index].generation == id.generation;
}

std::uint32_t ConnectionTimers::allocate() {
  if (free_ != kNone) {
    const std::uint32_t index = free_;
    free_ = entries_[index].next;
    return index;
  }
  entries_.emplace_back();
  return static_cast<std::uint32_t>(entries_.size() - 1);
}

void ConnectionTimers::release(std::uint32_t index, std::function<void()>& doomed) noexcept {
  Entry& entry = entries_[index];
  doomed = std::exchange(entry.callback, nullptr);
  entry.wheel_id = {};
  entry.live = false;
  if (++entry.generation == 0) entry.generation = 1;
  entry.next = free_;
  free_ = index;
}

void ConnectionTimers::link_due(std::uint32_t index) noexcept {
  Entry& entry = entries_[index];
  entry.due = true;
  entry.prev = due_tail_;
  entry.next = kNone;
  if (due_tail_ == kNone) {
    due_head_ = index;
  } else {
    entries_[due_tail_].next = index;
  }
  due_tail_ = index;
}

void ConnectionTimers::unlink_due(std::uint32_t index) noexcept {
  Entry& entry = entries_[index];
  if (entry.prev == kNone) {
    due_head_ = entry.next;
  } else {
    entries_[entry.prev].next = entry.next;
  }
  if (entry.next == kNone) {
    due_tail_ = entry.prev;
  } else {
    entries_[entry.next].prev = entry.prev;
  }
  entry.due = false;
  entry.prev = entry.next = kNone;
}

}  // namespace lf
