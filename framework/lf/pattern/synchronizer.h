// Internal (used by ThreadSet). Synchronizer: the leader token, the LIFO stack of followers and
// the ready list of events fetched but not yet processed. At most one thread holds the token.
// With event hand-off (POSA2's variant) the leader may instead give an event to a follower and
// keep the token. Thread safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "lf/base/spin_lock.h"
#include "lf/pattern/handler_queue.h"

namespace lf {

class EventHandler;

class Synchronizer {
 public:
  // One per thread; it must outlive every call that names it.
  struct Follower {
    std::atomic<std::uint32_t> signal{0};
    // A sleeping follower waits here (a condition variable, unlike an atomic wait, can time out:
    // an idle extra thread leaves the ThreadSet).
    std::mutex mutex;
    std::condition_variable wakeup;
    EventHandler* event = nullptr;  // set by hand_off() before the signal; taken by the owner
  };

  // What join() made of the calling thread.
  enum class Turn {
    kLead,     // it holds the leader token
    kProcess,  // it was handed an event (in its Follower::event) and does not lead
    kStop,     // stop() was called
    kIdle,     // nobody needed it for idle_limit; it left the followers (join again, or leave)
  };

  // spin: how many times a new follower polls its signal before it sleeps on it. Waking a
  // sleeping thread costs tens of microseconds on a virtual CPU; a spinning one, well under one.
  explicit Synchronizer(int spin = 0) noexcept : spin_(spin) {}

  // Blocks until the calling thread holds the leader token (at once if nobody holds it, else as
  // a follower until promote_new_leader() picks it) or is handed an event by hand_off(). With an
  // idle_limit above 0, a follower nobody picked for that long leaves and gets kIdle.
  [[nodiscard]] Turn join(Follower& self,
                          std::chrono::nanoseconds idle_limit = std::chrono::nanoseconds::zero());

  // Leader: passes the token directly to the most recent follower (the warmest cache), waking
  // only that one; with no follower waiting, leaves the token free. True if it promoted one.
  bool promote_new_leader();

  // Leader: gives `handler` to the most recent follower, which processes it and then joins again;
  // the caller stays leader. False (and `handler` untouched) when no follower waits.
  bool hand_off(EventHandler*& handler);

  // Leader: the next event of the batch already fetched, or null (then wait on the HandleSet).
  [[nodiscard]] EventHandler* take_ready();
  // Leader: keeps a freshly fetched batch and returns its first event (null if it was empty).
  [[nodiscard]] EventHandler* add_ready_and_take(std::vector<EventHandler*>& batch);

  // Wakes every follower with "stop"; join() returns false from now on.
  void stop();
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  [[nodiscard]] std::size_t followers() const;
  [[nodiscard]] std::size_t ready() const;
  // Drops the events left in the ready list (after the threads have stopped).
  void clear_ready();

 private:
  enum : std::uint32_t { kWaiting = 0, kLeader = 1, kStop = 2, kHandedOff = 3 };
  // Pops the most recent follower (null if none); with none, frees the token if free_token.
  Follower* pop_follower(bool free_token);
  static void signal(Follower& follower, std::uint32_t value);
  // Takes `self` off the followers; false if a leader popped it first (its signal is coming).
  bool leave_followers(Follower& self);

  const int spin_;
  mutable std::mutex mutex_;
  bool leader_ = false;
  std::vector<Follower*> followers_;  // a stack: back() is the most recent
  // The ready list: events fetched by a leader, not yet taken by a thread. Its own lock, a spin
  // lock, since taking an event is a pop; ready_size_ lets a thread see it empty without locking.
  SpinLock ready_lock_;
  HandlerQueue ready_;  // guarded by ready_lock_
  std::atomic<std::size_t> ready_size_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace lf
