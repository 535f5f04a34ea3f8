#include "lf/synchronizer.h"

#include "lf/event_handler.h"

namespace lf {

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

bool Synchronizer::join(Follower& self) {
  {
    std::lock_guard lock(mutex_);
    if (stopping()) return false;
    if (!leader_) {
      leader_ = true;
      return true;
    }
    self.signal.store(kWaiting, std::memory_order_relaxed);
    followers_.push_back(&self);
  }
  std::uint32_t signal = kWaiting;
  for (int i = 0; i < spin_; ++i) {
    signal = self.signal.load(std::memory_order_acquire);
    if (signal != kWaiting) return signal == kLeader;
    cpu_relax();
  }
  while ((signal = self.signal.load(std::memory_order_acquire)) == kWaiting) {
    self.signal.wait(kWaiting, std::memory_order_acquire);
  }
  return signal == kLeader;
}

bool Synchronizer::promote_new_leader() {
  Follower* next = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (followers_.empty()) {
      leader_ = false;
      return false;
    }
    next = followers_.back();
    followers_.pop_back();
    // leader_ stays true: the token goes straight to `next`, nobody can grab it in between.
  }
  // Signalled after unlocking, so the new leader never blocks on our mutex.
  next->signal.store(kLeader, std::memory_order_release);
  next->signal.notify_one();
  return true;
}

std::shared_ptr<EventHandler> Synchronizer::take_ready() {
  std::lock_guard lock(mutex_);
  if (ready_.empty()) return nullptr;
  auto handler = std::move(ready_.front());
  ready_.pop_front();
  return handler;
}

std::shared_ptr<EventHandler> Synchronizer::add_ready_and_take(
    std::vector<std::shared_ptr<EventHandler>>& batch) {
  if (batch.empty()) return nullptr;
  auto first = std::move(batch.front());
  if (batch.size() > 1) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 1; i < batch.size(); ++i) ready_.push_back(std::move(batch[i]));
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
  for (Follower* follower : waiting) {
    follower->signal.store(kStop, std::memory_order_release);
    follower->signal.notify_one();
  }
}

std::size_t Synchronizer::followers() const {
  std::lock_guard lock(mutex_);
  return followers_.size();
}

std::size_t Synchronizer::ready() const {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

void Synchronizer::clear_ready() {
  std::deque<std::shared_ptr<EventHandler>> dropped;
  std::lock_guard lock(mutex_);
  dropped.swap(ready_);
}

}  // namespace lf
