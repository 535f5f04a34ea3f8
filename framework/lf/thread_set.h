// Public. ThreadSet: the Leader/Followers pattern's thread set. N threads take turns as the one
// leader waiting on the HandleSet; the leader promotes a follower, then processes the event it
// got (or, with hand_off, gives the event to a follower and keeps leading). A thread that
// finishes an event takes the next one already fetched before it joins again. Users only start
// and stop it. Thread safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lf/handle_set.h"
#include "lf/synchronizer.h"

namespace lf {

class HandleSet;

enum class ThreadState : std::uint8_t { kNotStarted, kLeader, kProcessing, kFollower, kStopped };

[[nodiscard]] const char* to_string(ThreadState state) noexcept;

// How many threads and how followers wait (a value type, read by the constructor).
struct ThreadSetOptions {
  std::size_t threads = 0;  // 0: one per core
  int follower_spin = 0;    // polls of the promotion signal before a new follower sleeps
  bool hand_off = false;    // the leader hands events to followers while any wait (lf-handoff)
};

// Counters, summed over the threads when read.
struct ThreadSetStats {
  std::uint64_t dispatched = 0;     // handler runs
  std::uint64_t waits = 0;          // calls to HandleSet::wait_for_event
  std::uint64_t promotions = 0;     // leader token handed to a follower
  std::uint64_t hand_offs = 0;      // events handed to a follower by a leader that kept leading
  std::uint64_t stalls = 0;         // a handler started while every other thread was processing
  std::uint64_t max_concurrent_waiters = 0;  // must be <= 1: the pattern's core invariant
};

class ThreadSet {
 public:
  ThreadSet(HandleSet& handle_set, ThreadSetOptions options = {});
  ~ThreadSet();  // stops and joins
  ThreadSet(const ThreadSet&) = delete;
  ThreadSet& operator=(const ThreadSet&) = delete;

  void start();
  // Asks every thread to leave: followers at once, the leader when woken, processing threads
  // after their handler returns. Safe from any thread, including a ThreadSet thread.
  void stop();
  // Waits for every thread to leave. Not from a ThreadSet thread.
  void join();

  [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
  [[nodiscard]] std::vector<ThreadState> states() const;
  [[nodiscard]] ThreadSetStats stats() const;
  // True when the calling thread belongs to this ThreadSet.
  [[nodiscard]] bool contains_this_thread() const noexcept;

 private:
  // Per-thread data on its own cache line, so the counters are never shared between writers.
  struct alignas(64) Slot {
    Synchronizer::Follower follower;
    std::atomic<ThreadState> state{ThreadState::kNotStarted};
    std::atomic<std::uint64_t> dispatched{0};
    std::atomic<std::uint64_t> waits{0};
    std::atomic<std::uint64_t> promotions{0};
    std::atomic<std::uint64_t> hand_offs{0};
    HandleSet::ReadyList batch;  // reused for every wait: a wait allocates nothing
    std::thread thread;
  };

  void thread_main(Slot& slot);
  // As leader: the next event this thread processes itself, the token already passed on.
  EventHandler* lead(Slot& slot);
  // As leader: the next event fetched (the ready list first, then the HandleSet).
  EventHandler* next_event(Slot& slot);
  // Runs `handler`, then the events left in the ready list.
  void process(Slot& slot, EventHandler* handler);

  HandleSet& handle_set_;
  Synchronizer synchronizer_;
  const bool hand_off_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<std::size_t> processing_{0};
  std::atomic<std::size_t> waiting_{0};
  std::atomic<std::uint64_t> stalls_{0};
  std::atomic<std::uint64_t> max_waiters_{0};
  std::mutex join_mutex_;
  bool started_ = false;
};

}  // namespace lf
