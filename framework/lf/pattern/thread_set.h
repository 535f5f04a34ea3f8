// Public. ThreadSet: the Leader/Followers pattern's thread set. N threads take turns as the one
// leader waiting on the HandleSet; the leader promotes a follower, then processes the event it
// got (or, with hand_off, gives the event to a follower and keeps leading). A thread that
// finishes an event takes the next one already fetched before it joins again. Users only start
// and stop it. Thread safe.
//
// Elastic: when every thread has been processing for grow_after (handlers that block), nobody
// waits on the HandleSet, so another thread starts, up to max_threads; a thread above `threads`
// that stayed a follower for shrink_after leaves again.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lf/pattern/handle_set.h"
#include "lf/pattern/synchronizer.h"

namespace lf {

class HandleSet;

enum class ThreadState : std::uint8_t { kNotStarted, kLeader, kProcessing, kFollower, kStopped };

[[nodiscard]] const char* to_string(ThreadState state) noexcept;

// A thread count as the options give it: 0 means one per core. Every model resolves it so.
[[nodiscard]] std::size_t resolve_threads(std::size_t threads) noexcept;

// The elastic ThreadSet's defaults (ThreadSetOptions, and the Server's and apps' options).
inline constexpr std::size_t kDefaultGrowthFactor = 4;
inline constexpr std::chrono::milliseconds kDefaultGrowAfter{1};
inline constexpr std::chrono::milliseconds kDefaultShrinkAfter{5000};

// How many threads and how followers wait (a value type, read by the constructor).
struct ThreadSetOptions {
  std::size_t threads = 0;  // 0: one per core
  int follower_spin = 0;    // polls of the promotion signal before a new follower sleeps
  bool hand_off = false;    // the leader hands events to followers while any wait (lf-handoff)
  // The most threads while handlers block: 0 means kDefaultGrowthFactor x threads; equal to
  // `threads` (or below) keeps the set fixed.
  std::size_t max_threads = 0;
  // How long every thread must have been processing before another one starts.
  std::chrono::milliseconds grow_after = kDefaultGrowAfter;
  // How long a thread above `threads` stays an idle follower before it leaves.
  std::chrono::milliseconds shrink_after = kDefaultShrinkAfter;
};

// Counters, summed over the threads when read.
struct ThreadSetStats {
  std::uint64_t dispatched = 0;     // handler runs
  std::uint64_t waits = 0;          // calls to HandleSet::wait_for_event
  std::uint64_t promotions = 0;     // leader token handed to a follower
  std::uint64_t hand_offs = 0;      // events handed to a follower by a leader that kept leading
  std::uint64_t stalls = 0;         // a handler started while every other thread was processing
  std::uint64_t max_concurrent_waiters = 0;  // must be <= 1: the pattern's core invariant
  std::uint64_t grown = 0;          // threads started because every thread was busy
  std::uint64_t retired = 0;        // extra threads that left after idling
  std::size_t threads = 0;          // threads running now
  std::size_t peak_threads = 0;     // most threads running at once
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

  // Threads running now (between `threads` and max_threads once started).
  [[nodiscard]] std::size_t size() const noexcept { return live_.load(std::memory_order_acquire); }
  [[nodiscard]] std::size_t base_threads() const noexcept { return base_; }
  [[nodiscard]] std::size_t max_threads() const noexcept { return slots_.size(); }
  // The state of each thread running now (before start() and after join(): of the `threads`
  // slots start() fills, not started or stopped).
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
    std::thread thread;          // started and joined by start(), the supervisor and join()
    std::atomic<bool> running{false};
    // The thread's kernel id (set by the thread itself, 0 when none): the supervisor reads its
    // state to tell a thread blocked in its handler from one that computes.
    std::atomic<pid_t> tid{0};
  };

  void thread_main(Slot& slot);
  // Leads, processes and follows until stopped or retired.
  void run_turns(Slot& slot);
  // Starts slot's thread (the old one, if it retired, is joined first).
  void launch(Slot& slot);
  // The growth supervisor: sleeps until every thread is processing, then adds a thread each
  // grow_after while the stall lasts without a thread coming free.
  void supervise();
  // The longest the supervisor waits between two looks at a stall that gives it nothing to do,
  // in grow delays (it also bounds how long stop() waits for it).
  static constexpr int kMaxLookFactor = 16;
  [[nodiscard]] bool stalled() const noexcept {
    return processing_.load(std::memory_order_acquire) >= live_.load(std::memory_order_acquire);
  }
  // Starts one more thread if below the cap. Supervisor only.
  void grow();
  // For each slot, whether its thread sleeps in the kernel now (/proc/self/task/TID/stat: S or
  // D), that is blocked in its handler (a sleep, I/O, a lock) rather than computing.
  void read_blocked(std::vector<bool>& blocked) const;
  // True when some thread was blocked at both readings, a grow delay apart: one more thread
  // gets work done. Threads that all compute (or wait for a busy CPU) would only be sliced
  // thinner by one more.
  [[nodiscard]] static bool blocked_in_both(const std::vector<bool>& before,
                                            const std::vector<bool>& after) noexcept;
  // An idle follower above the base leaves: true if this thread may go.
  bool retire_one() noexcept;
  // A thread began processing with every other thread processing too.
  void note_stall();
  // Ends the supervisor's sleep (a stall started, or stop()).
  void wake_supervisor() noexcept;
  // As leader: the next event this thread processes itself, the token already passed on.
  EventHandler* lead(Slot& slot);
  // As leader: the next event fetched (the ready list first, then the HandleSet).
  EventHandler* next_event(Slot& slot);
  // Runs `handler`, then the events left in the ready list.
  void process(Slot& slot, EventHandler* handler);

  HandleSet& handle_set_;
  Synchronizer synchronizer_;
  const bool hand_off_;
  const std::size_t base_;  // threads started by start(), never fewer while running
  const std::chrono::milliseconds grow_after_;
  const std::chrono::milliseconds shrink_after_;
  std::vector<std::unique_ptr<Slot>> slots_;  // max_threads slots: base_ first, then extras
  std::atomic<std::size_t> live_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::uint64_t> grown_{0};
  std::atomic<std::uint64_t> retired_{0};
  // Bumped when a stall starts and when a thread stops processing: the supervisor waits on it.
  std::atomic<std::uint64_t> supervisor_wakeups_{0};
  std::atomic<std::uint64_t> leaves_{0};  // threads that finished processing (came free)
  std::atomic<bool> supervisor_asleep_{false};
  std::atomic<bool> supervisor_stop_{false};
  std::thread supervisor_;
  std::atomic<std::size_t> processing_{0};
  std::atomic<std::size_t> waiting_{0};
  std::atomic<std::uint64_t> stalls_{0};
  std::atomic<std::uint64_t> max_waiters_{0};
  std::mutex join_mutex_;
  bool started_ = false;
};

}  // namespace lf
