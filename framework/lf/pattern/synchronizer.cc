#include "lf/pattern/synchronizer.h"

#include <algorithm>
#include <utility>

#include "lf/pattern/event_handler.h"

namespace lf {

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

Synchronizer::Turn Synchronizer::join(Follower& self, std::chrono::nanoseconds idle_limit) {
  {
    std::lock_guard lock(mutex_);
    if (stopping()) return Turn::kStop;
    if (!leader_) {
      leader_ = true;
      return Turn::kLead;
    }
    self.signal.store(kWaiting, std::memory_order_relaxed);
    followers_.push_back(&self);
  }
  std::uint32_t signal = kWaiting;
  for (int i = 0; i < spin_ && signal == kWaiting; ++i) {
    signal = self.signal.load(std::memory_order_acquire);
    if (signal == kWaiting) cpu_relax();
  }
  if (signal == kWaiting) {
    const auto signalled = [&self] {
      return self.signal.load(std::memory_order_acquire) != kWaiting;
    };
    std::unique_lock lock(self.mutex);
    if (idle_limit <= std::chrono::nanoseconds::zero()) {
      self.wakeup.wait(lock, signalled);
    } else if (!self.wakeup.wait_for(lock, idle_limit, signalled)) {
      lock.unlock();
      if (leave_followers(self)) return Turn::kIdle;
      lock.lock();
      self.wakeup.wait(lock, signalled);  // popped meanwhile: its signal is on the way
    }
    signal = self.signal.load(std::memory_order_acquire);
  }
  switch (signal) {
    case kLeader: return Turn::kLead;
    case kHandedOff: return Turn::kProcess;
    default: return Turn::kStop;
  }
}

Synchronizer::Follower* Synchronizer::pop_follower(bool free_token) {
  std::lock_guard lock(mutex_);
  if (followers_.empty()) {
    if (free_token) leader_ = false;
    return nullptr;
  }
  Follower* next = followers_.back();
  followers_.pop_back();
  return next;
}

void Synchronizer::signal(Follower& follower, std::uint32_t value) {
  // Outside the synchronizer's mutex, so the woken thread never blocks on it. The follower's own
  // mutex orders the store with its check before it sleeps: no lost wakeup.
  {
    std::lock_guard lock(follower.mutex);
    follower.signal.store(value, std::memory_order_release);
  }
  follower.wakeup.notify_one();
}

bool Synchronizer::leave_followers(Follower& self) {
  std::lock_guard lock(mutex_);
  const auto it = std::find(followers_.begin(), followers_.end(), &self);
  if (it == followers_.end()) return false;
  followers_.erase(it);
  return true;
}

bool Synchronizer::promote_new_leader() {
  // With a follower, leader_ stays true: the token goes straight to it, nobody can grab it between.
  Follower* next = pop_follower(/*free_token=*/true);
  if (next == nullptr) return false;
  signal(*next, kLeader);
  return true;
}

bool Synchronizer::hand_off(EventHandler*& handler) {
  Follower* next = pop_follower(/*free_token=*/false);
  if (next == nullptr) return false;
  next->event = std::exchange(handler, nullptr);  // published by the release in signal()
  signal(*next, kHandedOff);
  return true;
}

EventHandler* Synchronizer::take_ready() {
  if (ready_size_.load(std::memory_order_acquire) == 0) return nullptr;  // the common miss, unlocked
  std::lock_guard lock(ready_lock_);
  if (ready_.empty()) return nullptr;
  ready_size_.store(ready_.size() - 1, std::memory_order_release);
  return ready_.pop();
}

EventHandler* Synchronizer::add_ready_and_take(std::vector<EventHandler*>& batch) {
  if (batch.empty()) return nullptr;
  EventHandler* first = batch.front();
  if (batch.size() > 1) {
    std::lock_guard lock(ready_lock_);
    for (std::size_t i = 1; i < batch.size(); ++i) ready_.push(batch[i]);
    ready_size_.store(ready_.size(), std::memory_order_release);
  }
  batch.clear();
  return first;
}

void Synchronizer::stop() {
  std::vector<Follower*> waiting;
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true, std::memory_order_release);
    waiting.swap(followers_);
  }
  for (Follower* follower : waiting) signal(*follower, kStop);
}

std::size_t Synchronizer::followers() const {
  std::lock_guard lock(mutex_);
  return followers_.size();
}

std::size_t Synchronizer::ready() const {
  return ready_size_.load(std::memory_order_acquire);
}

void Synchronizer::clear_ready() {
  HandlerQueue dropped;
  std::lock_guard lock(ready_lock_);
  std::swap(dropped, ready_);
  ready_size_.store(0, std::memory_order_release);
}

}  // namespace lf
