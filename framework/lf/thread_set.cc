#include "lf/thread_set.h"

#include <chrono>
#include <utility>

#include "lf/event_handler.h"
#include "lf/handle_set.h"
#include "lf/metrics.h"

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

ThreadSet::ThreadSet(HandleSet& handle_set, ThreadSetOptions options)
    : handle_set_(handle_set), synchronizer_(options.follower_spin), hand_off_(options.hand_off) {
  std::size_t n = options.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  slots_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>());
}

ThreadSet::~ThreadSet() {
  stop();
  join();
}

void ThreadSet::start() {
  std::lock_guard lock(join_mutex_);
  if (started_) return;
  started_ = true;
  for (auto& slot : slots_) {
    slot->thread = std::thread([this, s = slot.get()] { thread_main(*s); });
  }
}

void ThreadSet::stop() {
  synchronizer_.stop();
  handle_set_.wakeup();  // the leader may be blocked in epoll_wait
}

void ThreadSet::join() {
  std::lock_guard lock(join_mutex_);
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) slot->thread.join();
  }
  synchronizer_.clear_ready();
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
  if (processing_.fetch_add(1, std::memory_order_relaxed) + 1 == slots_.size()) {
    stalls_.fetch_add(1, std::memory_order_relaxed);
    metrics::add(metrics::Counter::kStalls);
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
}

void ThreadSet::thread_main(Slot& slot) {
  t_thread_set = this;
  StateClock clock(slot.state);
  clock.enter(ThreadState::kFollower);
  for (auto turn = synchronizer_.join(slot.follower); turn != Synchronizer::Turn::kStop;
       turn = synchronizer_.join(slot.follower)) {
    EventHandler* handler = nullptr;
    if (turn == Synchronizer::Turn::kLead) {
      clock.enter(ThreadState::kLeader);
      handler = lead(slot);
      if (handler == nullptr) break;
    } else {
      handler = std::exchange(slot.follower.event, nullptr);
    }
    clock.enter(ThreadState::kProcessing);
    process(slot, std::move(handler));
    clock.enter(ThreadState::kFollower);
  }
}

std::vector<ThreadState> ThreadSet::states() const {
  std::vector<ThreadState> result;
  result.reserve(slots_.size());
  for (const auto& slot : slots_) result.push_back(slot->state.load(std::memory_order_relaxed));
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
  return stats;
}

}  // namespace lf
