#include "lf/pattern/thread_set.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

#include "lf/base/thread_name.h"
#include "lf/base/unique_fd.h"
#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/pattern/event_handler.h"
#include "lf/pattern/handle_set.h"

namespace lf {

namespace {
thread_local const ThreadSet* t_thread_set = nullptr;

template <typename T>
void raise_to(std::atomic<T>& max, T value) noexcept {
  T seen = max.load(std::memory_order_relaxed);
  while (seen < value && !max.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

void bump(std::atomic<std::uint64_t>& counter) noexcept {
  // Only the owning thread writes its counters: a plain load + store avoids a locked instruction.
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Publishes a thread's state and charges the time spent in the previous one to its role.
class StateClock {
 public:
  explicit StateClock(std::atomic<ThreadState>& state) noexcept : state_(state) {}
  ~StateClock() { enter(ThreadState::kStopped); }
  StateClock(const StateClock&) = delete;
  StateClock& operator=(const StateClock&) = delete;

  void enter(ThreadState next) noexcept {
    const auto now = std::chrono::steady_clock::now();
    const auto spent = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - since_).count());
    switch (state_.load(std::memory_order_relaxed)) {
      case ThreadState::kLeader: metrics::add_time(metrics::Role::kLeading, spent); break;
      case ThreadState::kProcessing: metrics::add_time(metrics::Role::kProcessing, spent); break;
      case ThreadState::kFollower: metrics::add_time(metrics::Role::kFollowing, spent); break;
      default: break;
    }
    since_ = now;
    state_.store(next, std::memory_order_relaxed);
  }

 private:
  std::atomic<ThreadState>& state_;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
};
}  // namespace

const char* to_string(ThreadState state) noexcept {
  switch (state) {
    case ThreadState::kNotStarted: return "not-started";
    case ThreadState::kLeader: return "leader";
    case ThreadState::kProcessing: return "processing";
    case ThreadState::kFollower: return "follower";
    case ThreadState::kStopped: return "stopped";
  }
  return "?";
}

std::size_t resolve_threads(std::size_t threads) noexcept {
  return threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
}

namespace {
std::size_t resolve_max(const ThreadSetOptions& options) noexcept {
  const std::size_t base = resolve_threads(options.threads);
  const std::size_t max = options.max_threads != 0 ? options.max_threads : kDefaultGrowthFactor * base;
  return std::max(base, max);
}
}  // namespace

ThreadSet::ThreadSet(HandleSet& handle_set, ThreadSetOptions options)
    : handle_set_(handle_set),
      synchronizer_(options.follower_spin),
      hand_off_(options.hand_off),
      base_(resolve_threads(options.threads)),
      grow_after_(options.grow_after),
      shrink_after_(options.shrink_after) {
  const std::size_t max = resolve_max(options);
  slots_.reserve(max);
  for (std::size_t i = 0; i < max; ++i) slots_.push_back(std::make_unique<Slot>());
}

ThreadSet::~ThreadSet() {
  stop();
  join();
}

void ThreadSet::start() {
  std::lock_guard lock(join_mutex_);
  if (started_) return;
  started_ = true;
  for (std::size_t i = 0; i < base_; ++i) launch(*slots_[i]);
  if (slots_.size() > base_) supervisor_ = std::thread([this] { supervise(); });
}

void ThreadSet::launch(Slot& slot) {
  if (slot.thread.joinable()) slot.thread.join();  // a retired thread, gone or about to be
  slot.running.store(true, std::memory_order_release);
  const std::size_t live = live_.fetch_add(1, std::memory_order_acq_rel) + 1;
  raise_to(peak_, live);
  slot.thread = std::thread([this, &slot] { thread_main(slot); });
}

void ThreadSet::stop() {
  synchronizer_.stop();
  handle_set_.wakeup();  // the leader may be blocked in epoll_wait
  supervisor_stop_.store(true, std::memory_order_seq_cst);
  wake_supervisor();
}

void ThreadSet::wake_supervisor() noexcept {
  supervisor_wakeups_.fetch_add(1, std::memory_order_release);
  supervisor_wakeups_.notify_one();
}

void ThreadSet::join() {
  std::lock_guard lock(join_mutex_);
  // The supervisor first: once it is gone, nobody starts a thread.
  if (supervisor_.joinable()) supervisor_.join();
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) slot->thread.join();
  }
  synchronizer_.clear_ready();
}

void ThreadSet::supervise() {
  name_this_thread("lf-supervisor");
  std::vector<bool> blocked_before;
  std::vector<bool> blocked_after;
  std::chrono::milliseconds look_every = grow_after_;
  std::uint64_t stalls_looked_at = stalls_.load(std::memory_order_acquire);
  while (!supervisor_stop_.load(std::memory_order_acquire)) {
    if (live_.load(std::memory_order_acquire) >= slots_.size()) {
      // At the cap there is nothing to add until a thread retires (retire_one() wakes us) or
      // stop(). supervisor_asleep_ stays false, so stalls do not wake us meanwhile.
      const std::uint64_t seen = supervisor_wakeups_.load(std::memory_order_acquire);
      if (live_.load(std::memory_order_seq_cst) >= slots_.size() &&
          !supervisor_stop_.load(std::memory_order_seq_cst)) {
        supervisor_wakeups_.wait(seen, std::memory_order_acquire);
      }
      blocked_before.clear();
      look_every = grow_after_;
      continue;
    }
    if (!stalled()) {
      blocked_before.clear();
      // Stalls came and went since the last look (short ones: every thread busy for a moment,
      // then one came free): look again after a grow delay, unwoken. Waking at each stall's start
      // cost a busy server with short events two context switches each time (seen: two per TLS
      // connection, over half of a one-thread server's); a long stall is still seen within a grow
      // delay of its start, so a thread is added after at most three grow delays (two before).
      const std::uint64_t stalls = stalls_.load(std::memory_order_acquire);
      if (stalls != stalls_looked_at) {
        stalls_looked_at = stalls;
        std::this_thread::sleep_for(grow_after_);
        continue;
      }
      // Quiet: asleep until a stall starts. note_stall() wakes us only when this flag is set, so
      // a server whose threads keep coming free pays nothing for the supervisor.
      const std::uint64_t seen = supervisor_wakeups_.load(std::memory_order_acquire);
      supervisor_asleep_.store(true, std::memory_order_seq_cst);
      if (!stalled() && !supervisor_stop_.load(std::memory_order_seq_cst)) {
        supervisor_wakeups_.wait(seen, std::memory_order_acquire);
      }
      supervisor_asleep_.store(false, std::memory_order_relaxed);
      continue;  // the stall that woke us counts as new: if it is over, we look again unwoken
    }
    // Every thread is processing. If none comes free for a grow delay, nobody has watched the
    // handles all that time; if some of them are blocked rather than computing (asleep at this
    // look and the previous one), one more thread gets work done. The threads' states are read
    // only once a stall has lasted a grow delay: a busy server whose threads keep coming free
    // costs one sleep per grow delay here, no /proc reads. Looks that find nothing to do (the
    // threads compute, or the set is at its cap) come further and further apart, up to
    // kMaxLookFactor grow delays, until the stall ends or the set grows.
    const std::uint64_t leaves = leaves_.load(std::memory_order_acquire);
    std::this_thread::sleep_for(look_every);
    if (!stalled() || leaves_.load(std::memory_order_acquire) != leaves ||
        supervisor_stop_.load(std::memory_order_acquire)) {
      blocked_before.clear();  // the stall ended: start over
      look_every = grow_after_;
      continue;
    }
    read_blocked(blocked_after);
    if (blocked_in_both(blocked_before, blocked_after)) {
      grow();
      look_every = grow_after_;
    } else if (!blocked_before.empty()) {
      look_every = std::min(look_every * 2, grow_after_ * kMaxLookFactor);
    }
    blocked_before.swap(blocked_after);
  }
}

void ThreadSet::read_blocked(std::vector<bool>& blocked) const {
  blocked.assign(slots_.size(), false);
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = *slots_[i];
    const pid_t tid = slot.tid.load(std::memory_order_acquire);
    if (tid == 0 || !slot.running.load(std::memory_order_acquire)) continue;
    // "tid (comm) S ...": the state follows the last ')'. S: sleeping, D: waiting for I/O; R
    // (running, or runnable and waiting for a CPU) counts as busy. Plain system calls: no
    // allocation (tests count them).
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
    const UniqueFd file(::open(path, O_RDONLY | O_CLOEXEC));
    if (!file) continue;  // the thread has just left
    char text[256];
    const ssize_t n = ::read(file.get(), text, sizeof text - 1);
    if (n <= 0) continue;
    text[n] = '\0';
    const char* paren = std::strrchr(text, ')');
    if (paren == nullptr || paren[1] != ' ') continue;
    blocked[i] = paren[2] == 'S' || paren[2] == 'D';
  }
}

bool ThreadSet::blocked_in_both(const std::vector<bool>& before,
                                const std::vector<bool>& after) noexcept {
  for (std::size_t i = 0; i < before.size() && i < after.size(); ++i) {
    if (before[i] && after[i]) return true;
  }
  return false;
}

void ThreadSet::grow() {
  if (live_.load(std::memory_order_acquire) >= slots_.size()) return;  // at the cap
  // Any slot whose thread has left: the thread that retires is whichever idled longest, which
  // may have been started with the set.
  for (auto& slot_ptr : slots_) {
    Slot& slot = *slot_ptr;
    if (slot.running.load(std::memory_order_acquire)) continue;
    launch(slot);
    grown_.fetch_add(1, std::memory_order_relaxed);
    metrics::add(metrics::Counter::kThreadsGrown);
    LF_LOG_INFO("every thread busy for {} ms: started another, {} running (at most {})",
                grow_after_.count(), live_.load(std::memory_order_relaxed), slots_.size());
    return;
  }
}

bool ThreadSet::retire_one() noexcept {
  std::size_t live = live_.load(std::memory_order_acquire);
  while (live > base_) {
    if (live_.compare_exchange_weak(live, live - 1, std::memory_order_acq_rel)) {
      retired_.fetch_add(1, std::memory_order_relaxed);
      metrics::add(metrics::Counter::kThreadsRetired);
      LF_LOG_INFO("a thread idle for {} ms left, {} running", shrink_after_.count(), live - 1);
      if (live == slots_.size()) wake_supervisor();  // it waits for this below the cap
      return true;
    }
  }
  return false;
}

void ThreadSet::note_stall() {
  stalls_.fetch_add(1, std::memory_order_relaxed);
  metrics::add(metrics::Counter::kStalls);
  if (supervisor_asleep_.load(std::memory_order_seq_cst) &&
      supervisor_asleep_.exchange(false, std::memory_order_acq_rel)) {
    wake_supervisor();
  }
}

bool ThreadSet::contains_this_thread() const noexcept { return t_thread_set == this; }

EventHandler* ThreadSet::next_event(Slot& slot) {
  if (auto handler = synchronizer_.take_ready()) return handler;
  HandleSet::ReadyList& batch = slot.batch;
  while (!synchronizer_.stopping()) {
    raise_to(max_waiters_, waiting_.fetch_add(1, std::memory_order_relaxed) + 1);
    handle_set_.wait_for_event(batch, -1);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    bump(slot.waits);
    if (auto handler = synchronizer_.add_ready_and_take(batch)) return handler;
  }
  return nullptr;
}

EventHandler* ThreadSet::lead(Slot& slot) {
  for (;;) {
    auto handler = next_event(slot);
    if (handler == nullptr) return nullptr;  // stopping
    // Event hand-off: a waiting follower takes the event and this thread keeps leading, its
    // epoll state warm. With no follower left it processes the event itself, as in plain lf.
    if (hand_off_ && synchronizer_.hand_off(handler)) {
      bump(slot.hand_offs);
      metrics::add(metrics::Counter::kHandOffs);
      continue;
    }
    if (synchronizer_.promote_new_leader()) {
      bump(slot.promotions);
      metrics::add(metrics::Counter::kPromotions);
    }
    return handler;
  }
}

void ThreadSet::process(Slot& slot, EventHandler* handler) {
  // seq_cst: pairs with the supervisor's check before it sleeps (it sees this, or we see it asleep).
  if (processing_.fetch_add(1, std::memory_order_seq_cst) + 1 >=
      live_.load(std::memory_order_seq_cst)) {
    note_stall();
  }
  // Events already fetched need nobody waiting on the HandleSet: take them directly rather than
  // joining as a follower, so a batch costs one promotion instead of a sleep and a wakeup per
  // event (each of those is a context switch, as costly as the event itself for small messages).
  do {
    bump(slot.dispatched);
    metrics::add(metrics::Counter::kEventsDispatched);
    // A handler still busy after its rounds goes to the back of the queue (fairness).
    // Once run() returns false the handler is not ours: the leader may free it.
    if (handler->run()) handle_set_.post_again(*handler);
  } while (!synchronizer_.stopping() && (handler = synchronizer_.take_ready()));
  processing_.fetch_sub(1, std::memory_order_relaxed);
  leaves_.fetch_add(1, std::memory_order_release);
}

void ThreadSet::thread_main(Slot& slot) {
  t_thread_set = this;
  name_this_thread("lf-worker");
  slot.tid.store(::gettid(), std::memory_order_release);
  metrics::add(metrics::Counter::kThreadsStarted);
  run_turns(slot);
  metrics::add(metrics::Counter::kThreadsExited);
  slot.tid.store(0, std::memory_order_relaxed);
  slot.running.store(false, std::memory_order_release);  // the supervisor may reuse the slot
}

void ThreadSet::run_turns(Slot& slot) {
  StateClock clock(slot.state);
  clock.enter(ThreadState::kFollower);
  // Only an elastic set lets idle followers time out (a fixed one has nobody to let go).
  const auto idle_limit = slots_.size() > base_
                              ? std::chrono::duration_cast<std::chrono::nanoseconds>(shrink_after_)
                              : std::chrono::nanoseconds::zero();
  for (auto turn = synchronizer_.join(slot.follower, idle_limit); turn != Synchronizer::Turn::kStop;
       turn = synchronizer_.join(slot.follower, idle_limit)) {
    if (turn == Synchronizer::Turn::kIdle) {
      if (retire_one()) return;
      continue;  // a base thread: it stays
    }
    EventHandler* handler = nullptr;
    if (turn == Synchronizer::Turn::kLead) {
      clock.enter(ThreadState::kLeader);
      handler = lead(slot);
      if (handler == nullptr) break;
    } else {
      handler = std::exchange(slot.follower.event, nullptr);
    }
    clock.enter(ThreadState::kProcessing);
    process(slot, handler);
    clock.enter(ThreadState::kFollower);
  }
}

std::vector<ThreadState> ThreadSet::states() const {
  std::vector<ThreadState> result;
  result.reserve(slots_.size());
  for (const auto& slot : slots_) {
    if (slot->running.load(std::memory_order_acquire)) {
      result.push_back(slot->state.load(std::memory_order_relaxed));
    }
  }
  if (!result.empty()) return result;
  // Before start() or after join(): the slots start() fills.
  for (std::size_t i = 0; i < base_; ++i) {
    result.push_back(slots_[i]->state.load(std::memory_order_relaxed));
  }
  return result;
}

ThreadSetStats ThreadSet::stats() const {
  ThreadSetStats stats;
  for (const auto& slot : slots_) {
    stats.dispatched += slot->dispatched.load(std::memory_order_relaxed);
    stats.waits += slot->waits.load(std::memory_order_relaxed);
    stats.promotions += slot->promotions.load(std::memory_order_relaxed);
    stats.hand_offs += slot->hand_offs.load(std::memory_order_relaxed);
  }
  stats.stalls = stalls_.load(std::memory_order_relaxed);
  stats.max_concurrent_waiters = max_waiters_.load(std::memory_order_relaxed);
  stats.grown = grown_.load(std::memory_order_relaxed);
  stats.retired = retired_.load(std::memory_order_relaxed);
  stats.threads = live_.load(std::memory_order_relaxed);
  stats.peak_threads = peak_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace lf
