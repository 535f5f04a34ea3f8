// TimerWheel and TimerCallback, driven by a synthetic clock: timers fire in their tick and never
// early, in deadline order; cancel, touch, long delays, periodic timers, re-entrant callbacks,
// next_deadline(), no allocation per timer, and four threads at once (run it under TSan too).
#include "lf/timer/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

// Counts heap allocations, so a test can check that steady-state timers allocate nothing.
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

// Out of line, or GCC sees free() of what operator new returned and warns of a mismatch.
[[gnu::noinline]] void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace lf {
namespace {

using namespace std::chrono_literals;
using Clock = TimerWheel::Clock;
using Duration = Clock::duration;

// Far from the clock's epoch, like a real steady_clock reading.
const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(1000));

Duration round_up(Duration d, Duration tick) { return (d + tick - 1ns) / tick * tick; }

// A wheel whose clock only moves when the test says so. The clock is atomic so that scheduling
// threads may read it while the test thread moves it.
class Harness {
 public:
  explicit Harness(Duration tick = 10ms, std::size_t slots = 512)
      : wheel(tick, slots, kT0, [this] { return now(); }) {}

  [[nodiscard]] Clock::time_point now() const { return kT0 + Duration(offset_.load()); }
  [[nodiscard]] Duration elapsed() const { return Duration(offset_.load()); }
  void set(Duration t) { offset_.store(t.count()); }

  // Moves the clock to t (since kT0) and advances the wheel, without running the callables.
  std::vector<TimerCallback> advance_only(Duration t) {
    set(t);
    std::vector<TimerCallback> out;
    wheel.advance(now(), out);
    return out;
  }
  // Moves the clock to t, advances the wheel and runs what it returned. Returns how many.
  std::size_t advance_to(Duration t) {
    std::vector<TimerCallback> out = advance_only(t);
    for (TimerCallback& cb : out) cb();
    return out.size();
  }

 private:
  std::atomic<Duration::rep> offset_{0};  // declared before the wheel, whose clock reads it

 public:
  TimerWheel wheel;
};

// ---------------------------------------------------------------------------------------------
// Ordering and precision

TEST(TimerWheelTest, RandomDelaysFireInTheirTickNeverEarlyInDeadlineOrder) {
  constexpr Duration kTick = 1ms;
  Harness h(kTick, 64);  // small wheel: delays reach the third level
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<Duration::rep> delay_ns(1, Duration(6000ms).count());

  struct Timer {
    TimerId id;
    Duration deadline;
    std::size_t order;  // scheduling order; touch() counts as scheduling
    std::optional<Duration> fired_at;
    int runs = 0;
  };
  std::vector<Timer> timers;
  std::vector<std::size_t> fire_sequence;
  std::size_t order = 0;
  const auto schedule = [&](Duration delay) {
    const std::size_t i = timers.size();
    timers.push_back({{}, h.elapsed() + delay, order++, std::nullopt, 0});
    timers[i].id = h.wheel.run_after(delay, [&, i] {
      timers[i].fired_at = h.elapsed();
      ++timers[i].runs;
      fire_sequence.push_back(i);
    });
  };
  timers.reserve(30000);
  for (int i = 0; i < 20000; ++i) schedule(Duration(delay_ns(rng)));
  // A few exact ties: equal deadlines fire in scheduling order.
  for (int i = 0; i < 100; ++i) schedule(777ms);
  std::size_t touched = 0;
  for (Duration t = 1ms; t <= 7000ms; t += kTick) {
    h.advance_to(t);
    if (t < 1000ms && t % 100ms == 0ms) {  // more timers while the wheel turns
      for (int i = 0; i < 1000; ++i) schedule(Duration(delay_ns(rng)));
    }
    if (t < 5000ms && t % 10ms == 0ms) {  // touches: mostly postponing, some bringing forward
      for (int i = 0; i < 20; ++i) {
        Timer& timer = timers[rng() % timers.size()];
        const Duration delay(delay_ns(rng) / 4 + 1);
        ASSERT_EQ(h.wheel.touch(timer.id, delay), !timer.fired_at.has_value());
        if (timer.fired_at) continue;
        timer.deadline = t + delay;
        timer.order = order++;
        ++touched;
      }
    }
  }
  EXPECT_GT(touched, 5000u);

  ASSERT_EQ(fire_sequence.size(), timers.size());
  for (const Timer& timer : timers) {
    ASSERT_EQ(timer.runs, 1);
    ASSERT_GE(*timer.fired_at, timer.deadline) << "fired early";
    ASSERT_EQ(*timer.fired_at, round_up(timer.deadline, kTick)) << "not in its tick";
  }
  for (std::size_t k = 1; k < fire_sequence.size(); ++k) {
    const Timer& a = timers[fire_sequence[k - 1]];
    const Timer& b = timers[fire_sequence[k]];
    ASSERT_LT(std::tie(a.deadline, a.order), std::tie(b.deadline, b.order)) << "at " << k;
  }
  EXPECT_EQ(h.wheel.size(), 0u);
}

TEST(TimerWheelTest, IrregularAdvancesFireAtTheFirstAdvanceThatReachesTheTick) {
  constexpr Duration kTick = 9'999'991ns;  // not a round number
  Harness h(kTick, 16);
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<Duration::rep> delay_ns(1, Duration(30s).count());
  std::uniform_int_distribution<Duration::rep> step_ns(1, Duration(35ms).count());

  constexpr int kTimers = 5000;
  std::vector<Duration> deadline(kTimers);
  std::vector<std::optional<Duration>> fired_at(kTimers);
  std::vector<int> sequence;
  for (int i = 0; i < kTimers; ++i) {
    const Duration delay(delay_ns(rng));
    deadline[static_cast<std::size_t>(i)] = delay;
    h.wheel.run_after(delay, [&, i] {
      fired_at[static_cast<std::size_t>(i)] = h.elapsed();
      sequence.push_back(i);
    });
  }
  std::vector<Duration> advances{0ns};
  while (h.elapsed() < 31s) {
    advances.push_back(h.elapsed() + Duration(step_ns(rng)));
    h.advance_to(advances.back());
  }
  ASSERT_EQ(sequence.size(), static_cast<std::size_t>(kTimers));
  for (std::size_t i = 0; i < deadline.size(); ++i) {
    // The first advance() whose `now` reached the deadline rounded up to the tick.
    const Duration due = round_up(deadline[i], kTick);
    const Duration expected = *std::lower_bound(advances.begin(), advances.end(), due);
    ASSERT_EQ(*fired_at[i], expected) << "timer " << i;
    ASSERT_GE(*fired_at[i], deadline[i]);
  }
  for (std::size_t k = 1; k < sequence.size(); ++k) {
    ASSERT_LE(deadline[static_cast<std::size_t>(sequence[k - 1])],
              deadline[static_cast<std::size_t>(sequence[k])]);
  }
}

TEST(TimerWheelTest, PrecisionIsTheTick) {
  Harness h(10ms);
  int runs = 0;
  h.wheel.run_after(15ms, [&] { ++runs; });
  h.wheel.run_after(20ms, [&] { ++runs; });
  h.advance_to(10ms);
  h.advance_to(15ms);  // the deadline, but not yet its tick: at most one tick late, never early
  h.advance_to(19999us);
  EXPECT_EQ(runs, 0);
  h.advance_to(20ms);
  EXPECT_EQ(runs, 2);
}

TEST(TimerWheelTest, ZeroDelayFiresAtTheNextAdvance) {
  Harness h(10ms);
  int runs = 0;
  h.wheel.run_after(0ms, [&] { ++runs; });  // before any advance
  EXPECT_EQ(h.advance_to(0ms), 1u);
  h.advance_to(25ms);  // off the tick grid
  h.wheel.run_after(0ms, [&] { ++runs; });
  h.wheel.run_after(-5ms, [&] { ++runs; });
  EXPECT_EQ(h.advance_to(25ms), 2u);  // same `now`: still fires
  h.set(27ms);
  h.wheel.run_after(0ms, [&] { ++runs; });
  EXPECT_EQ(h.advance_to(27ms), 1u);
  EXPECT_EQ(runs, 4);
  // run_at() in the past is due at once too.
  h.wheel.run_at(kT0 + 5ms, [&] { ++runs; });
  EXPECT_EQ(h.advance_to(27ms), 1u);
}

TEST(TimerWheelTest, RunAtUsesAnAbsoluteDeadline) {
  Harness h(10ms);
  Duration fired_at = -1ns;
  h.set(100ms);
  h.wheel.run_at(kT0 + 145ms, [&] { fired_at = h.elapsed(); });
  for (Duration t = 100ms; t <= 200ms; t += 10ms) h.advance_to(t);
  EXPECT_EQ(fired_at, 150ms);
}

// ---------------------------------------------------------------------------------------------
// cancel

TEST(TimerWheelTest, CancelBeforeFiring) {
  Harness h;
  int runs = 0;
  const TimerId id = h.wheel.run_after(50ms, [&] { ++runs; });
  EXPECT_TRUE(id.valid());
  EXPECT_EQ(h.wheel.size(), 1u);
  EXPECT_TRUE(h.wheel.cancel(id));
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_FALSE(h.wheel.cancel(id));
  EXPECT_EQ(h.advance_to(1s), 0u);
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(h.wheel.next_deadline());
}

TEST(TimerWheelTest, CancelAfterFiringReturnsFalse) {
  Harness h;
  int runs = 0;
  const TimerId id = h.wheel.run_after(10ms, [&] { ++runs; });
  h.advance_to(10ms);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(h.wheel.cancel(id));
  EXPECT_FALSE(h.wheel.touch(id, 10ms));
  EXPECT_EQ(h.wheel.size(), 0u);
}

TEST(TimerWheelTest, StaleIdAfterSlotReuseIsRejected) {
  Harness h;
  int old_runs = 0;
  int new_runs = 0;
  const TimerId old_id = h.wheel.run_after(10ms, [&] { ++old_runs; });
  ASSERT_TRUE(h.wheel.cancel(old_id));
  const TimerId new_id = h.wheel.run_after(10ms, [&] { ++new_runs; });
  ASSERT_EQ(new_id.index, old_id.index);  // the free list hands the slot straight back
  EXPECT_NE(new_id.generation, old_id.generation);
  EXPECT_NE(new_id, old_id);
  EXPECT_FALSE(h.wheel.cancel(old_id));
  EXPECT_FALSE(h.wheel.touch(old_id, 1s));
  h.advance_to(10ms);
  EXPECT_EQ(old_runs, 0);
  EXPECT_EQ(new_runs, 1);
  // Fired, then reused: the first id is still stale.
  const TimerId third = h.wheel.run_after(10ms, [] {});
  EXPECT_EQ(third.index, new_id.index);
  EXPECT_FALSE(h.wheel.cancel(new_id));
  EXPECT_TRUE(h.wheel.cancel(third));
}

TEST(TimerWheelTest, InvalidAndForgedIdsAreRejected) {
  Harness h;
  EXPECT_FALSE(TimerId{}.valid());
  EXPECT_FALSE(h.wheel.cancel(TimerId{}));
  EXPECT_FALSE(h.wheel.touch(TimerId{}, 1s));
  const TimerId id = h.wheel.run_after(10ms, [] {});
  EXPECT_FALSE(h.wheel.cancel(TimerId{id.index + 1, id.generation}));  // a free node
  EXPECT_FALSE(h.wheel.cancel(TimerId{1u << 30, 1}));                  // beyond the pool
  EXPECT_EQ(h.wheel.size(), 1u);
}

TEST(TimerWheelTest, CancelAfterAdvanceButBeforeTheCallableRunsStopsIt) {
  Harness h;
  int runs = 0;
  const TimerId id = h.wheel.run_after(10ms, [&] { ++runs; });
  std::vector<TimerCallback> out = h.advance_only(10ms);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.wheel.size(), 1u);  // live until its callback starts
  EXPECT_TRUE(h.wheel.cancel(id));
  out[0]();
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(h.wheel.size(), 0u);
}

// The chosen semantics: callables run in deadline order and each checks, when it runs, that its
// timer is still live. So a callback that cancels a timer due in the same advance() stops it if
// it has not run yet (cancel returns true), and gets false if it already ran.
TEST(TimerWheelTest, CallbackCancelsAnotherTimerDueInTheSameAdvance) {
  Harness h;
  std::vector<char> ran;
  TimerId first;
  TimerId second;
  std::optional<bool> cancel_second;
  std::optional<bool> cancel_first;
  first = h.wheel.run_after(10ms, [&] {
    ran.push_back('a');
    cancel_second = h.wheel.cancel(second);  // not run yet: stopped
  });
  second = h.wheel.run_after(15ms, [&] { ran.push_back('b'); });
  h.wheel.run_after(18ms, [&] {
    ran.push_back('c');
    cancel_first = h.wheel.cancel(first);  // already ran: false
  });
  EXPECT_EQ(h.advance_to(20ms), 3u);  // all three handed out by one advance()
  EXPECT_EQ(ran, (std::vector<char>{'a', 'c'}));
  EXPECT_EQ(cancel_second, true);
  EXPECT_EQ(cancel_first, false);
  EXPECT_EQ(h.wheel.size(), 0u);
}

TEST(TimerWheelTest, CallbackSchedulesAndTouchesDuringAdvance) {
  Harness h;
  std::vector<int> ran;
  TimerId later;
  h.wheel.run_after(10ms, [&] {
    ran.push_back(1);
    h.wheel.run_after(0ms, [&] { ran.push_back(3); });  // not in this batch: the next advance
    EXPECT_TRUE(h.wheel.touch(later, 50ms));            // due in this batch, postponed
  });
  later = h.wheel.run_after(15ms, [&] { ran.push_back(2); });
  EXPECT_EQ(h.advance_to(20ms), 2u);
  EXPECT_EQ(ran, std::vector<int>{1});
  h.advance_to(30ms);
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
  h.advance_to(60ms);
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
  h.advance_to(70ms);  // touched at 20ms + 50ms
  EXPECT_EQ(ran, (std::vector<int>{1, 3, 2}));
}

// ---------------------------------------------------------------------------------------------
// touch

TEST(TimerWheelTest, TouchPostpones) {
  Harness h;
  Duration fired_at = -1ns;
  const TimerId id = h.wheel.run_after(100ms, [&] { fired_at = h.elapsed(); });
  h.advance_to(50ms);
  EXPECT_TRUE(h.wheel.touch(id, 100ms));
  EXPECT_LE(h.wheel.next_deadline(), kT0 + 150ms);  // may still say 100ms: never later
  for (Duration t = 60ms; t <= 140ms; t += 10ms) h.advance_to(t);
  EXPECT_EQ(h.wheel.next_deadline(), kT0 + 150ms);
  EXPECT_EQ(fired_at, -1ns);
  h.advance_to(150ms);
  EXPECT_EQ(fired_at, 150ms);
  EXPECT_FALSE(h.wheel.touch(id, 100ms));  // fired
}

TEST(TimerWheelTest, RepeatedTouchesKeepAnIdleTimerAlive) {
  Harness h(10ms, 8);  // the 50 ms timeout spans levels 0 and 1
  int runs = 0;
  const TimerId id = h.wheel.run_after(50ms, [&] { ++runs; });
  Duration t = 0ms;
  for (int i = 0; i < 200; ++i) {
    t += 30ms;
    h.advance_to(t);
    ASSERT_TRUE(h.wheel.touch(id, 50ms));
  }
  EXPECT_EQ(runs, 0);
  h.advance_to(t + 40ms);
  EXPECT_EQ(runs, 0);
  h.advance_to(t + 50ms);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(h.wheel.touch(id, 50ms));
}

TEST(TimerWheelTest, TouchCanBringADeadlineForward) {
  Harness h;
  int runs = 0;
  const TimerId id = h.wheel.run_after(10s, [&] { ++runs; });
  EXPECT_TRUE(h.wheel.touch(id, 0ms));
  EXPECT_EQ(h.advance_to(0ms), 1u);
  EXPECT_EQ(runs, 1);
}

TEST(TimerWheelTest, TouchAfterAdvanceButBeforeTheCallableRunsReschedules) {
  Harness h;
  int runs = 0;
  const TimerId id = h.wheel.run_after(10ms, [&] { ++runs; });
  std::vector<TimerCallback> out = h.advance_only(10ms);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(h.wheel.touch(id, 30ms));  // activity just before the timeout ran
  out[0]();
  EXPECT_EQ(runs, 0);
  h.advance_to(30ms);
  EXPECT_EQ(runs, 0);
  h.advance_to(40ms);
  EXPECT_EQ(runs, 1);
}

// ---------------------------------------------------------------------------------------------
// Long delays

TEST(TimerWheelTest, DelaysOfManyRevolutionsFireInTheRightTick) {
  constexpr Duration kTick = 10ms;
  constexpr std::size_t kSlots = 512;
  Harness h(kTick, kSlots);
  const Duration revolution = kTick * static_cast<Duration::rep>(kSlots);
  const std::vector<Duration> delays{
      10 * revolution, 10 * revolution + 30ms, 10 * revolution + 35ms, 37 * revolution - 10ms,
      revolution,      revolution - 1ns};
  std::vector<Duration> fired_at(delays.size(), -1ns);
  for (std::size_t i = 0; i < delays.size(); ++i) {
    h.wheel.run_after(delays[i], [&, i] { fired_at[i] = h.elapsed(); });
  }
  for (Duration t = kTick; t <= 38 * revolution; t += kTick) h.advance_to(t);
  for (std::size_t i = 0; i < delays.size(); ++i) {
    EXPECT_EQ(fired_at[i], round_up(delays[i], kTick)) << "delay " << delays[i].count();
  }
}

TEST(TimerWheelTest, HugeDelaysFireOnTimeWhenDrivenByNextDeadline) {
  constexpr Duration kTick = 1ms;
  Harness h(kTick, 8);  // 21 levels
  const std::vector<Duration> delays{8760h, 1000h + 1ns, 3s + 7ms, 65ms, 64ms, 9ms};
  std::vector<Duration> fired_at(delays.size(), -1ns);
  for (std::size_t i = 0; i < delays.size(); ++i) {
    h.wheel.run_after(delays[i], [&, i] { fired_at[i] = h.elapsed(); });
  }
  // What the owner does with the timerfd: arm it at next_deadline(), advance when it expires.
  int wakeups = 0;
  while (const std::optional<Clock::time_point> next = h.wheel.next_deadline()) {
    ASSERT_GT(*next, h.now()) << "would spin";
    h.advance_to(*next - kT0);
    ASSERT_LT(++wakeups, 1000);
  }
  for (std::size_t i = 0; i < delays.size(); ++i) {
    EXPECT_EQ(fired_at[i], round_up(delays[i], kTick)) << "delay " << delays[i].count();
  }
  // Each far timer costs at most one early wake-up per level it moves down through.
  EXPECT_LE(wakeups, 6 * 21);
  const TimerId far = h.wheel.run_after(Duration::max(), [] {});  // saturates, does not overflow
  EXPECT_TRUE(h.wheel.next_deadline().has_value());
  EXPECT_TRUE(h.wheel.cancel(far));
}

TEST(TimerWheelTest, NextDeadlineDrivenLoopFiresEveryTimerInItsTick) {
  constexpr Duration kTick = 10ms;
  Harness h(kTick, 64);
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<Duration::rep> delay_ns(1, Duration(2h).count());
  constexpr int kTimers = 3000;
  std::vector<Duration> deadline(kTimers);
  std::vector<Duration> fired_at(kTimers, -1ns);
  for (std::size_t i = 0; i < deadline.size(); ++i) {
    deadline[i] = Duration(delay_ns(rng));
    h.wheel.run_after(deadline[i], [&, i] { fired_at[i] = h.elapsed(); });
  }
  std::size_t wakeups = 0;
  while (const std::optional<Clock::time_point> next = h.wheel.next_deadline()) {
    ASSERT_GT(*next, h.now());
    h.advance_to(*next - kT0);
    ++wakeups;
  }
  for (std::size_t i = 0; i < deadline.size(); ++i) {
    ASSERT_EQ(fired_at[i], round_up(deadline[i], kTick)) << "timer " << i;
  }
  EXPECT_LT(wakeups, 2 * deadline.size());
}

// ---------------------------------------------------------------------------------------------
// run_every

TEST(TimerWheelTest, RunEveryFiresEveryIntervalUntilCancelled) {
  Harness h(10ms);
  std::vector<Duration> fired_at;
  const TimerId id = h.wheel.run_every(30ms, [&] { fired_at.push_back(h.elapsed()); });
  for (Duration t = 10ms; t <= 300ms; t += 10ms) h.advance_to(t);
  std::vector<Duration> expected;
  for (Duration t = 30ms; t <= 300ms; t += 30ms) expected.push_back(t);
  EXPECT_EQ(fired_at, expected);
  EXPECT_EQ(h.wheel.size(), 1u);
  EXPECT_TRUE(h.wheel.cancel(id));
  for (Duration t = 310ms; t <= 600ms; t += 10ms) h.advance_to(t);
  EXPECT_EQ(fired_at.size(), expected.size());
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_FALSE(h.wheel.cancel(id));
}

TEST(TimerWheelTest, RunEveryCancelledFromItsOwnCallbackStops) {
  Harness h(10ms);
  int runs = 0;
  TimerId self;
  std::optional<bool> cancelled;
  self = h.wheel.run_every(20ms, [&] {
    if (++runs == 3) cancelled = h.wheel.cancel(self);
  });
  for (Duration t = 10ms; t <= 1s; t += 10ms) h.advance_to(t);
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(cancelled, true);
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_FALSE(h.wheel.next_deadline());
}

TEST(TimerWheelTest, RunEveryCancelledFromItsOwnCallbackWhileItsSlotIsReused) {
  Harness h(10ms);
  int runs = 0;
  int replacement_runs = 0;
  TimerId self;
  self = h.wheel.run_every(10ms, [&] {
    ++runs;
    EXPECT_TRUE(h.wheel.cancel(self));
    // Takes the node that was just freed; the periodic timer must not come back into it.
    const TimerId next = h.wheel.run_after(10ms, [&] { ++replacement_runs; });
    EXPECT_EQ(next.index, self.index);
  });
  for (Duration t = 10ms; t <= 100ms; t += 10ms) h.advance_to(t);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(replacement_runs, 1);
  EXPECT_EQ(h.wheel.size(), 0u);
}

TEST(TimerWheelTest, TouchMovesTheNextFiringOfAPeriodicTimer) {
  Harness h(10ms);
  std::vector<Duration> fired_at;
  const TimerId id = h.wheel.run_every(100ms, [&] { fired_at.push_back(h.elapsed()); });
  h.advance_to(50ms);
  EXPECT_TRUE(h.wheel.touch(id, 200ms));
  for (Duration t = 60ms; t <= 450ms; t += 10ms) h.advance_to(t);
  EXPECT_EQ(fired_at, (std::vector<Duration>{250ms, 350ms, 450ms}));
  EXPECT_TRUE(h.wheel.cancel(id));
}

TEST(TimerWheelTest, TouchFromAPeriodicCallbackMovesItsNextFiring) {
  Harness h(10ms);
  std::vector<Duration> fired_at;
  TimerId self;
  self = h.wheel.run_every(100ms, [&] {
    fired_at.push_back(h.elapsed());
    if (fired_at.size() == 1) {
      EXPECT_TRUE(h.wheel.touch(self, 30ms));
    }
  });
  for (Duration t = 10ms; t <= 300ms; t += 10ms) h.advance_to(t);
  EXPECT_EQ(fired_at, (std::vector<Duration>{100ms, 130ms, 230ms}));
}

TEST(TimerWheelTest, RunEverySkipsMissedPeriodsAndKeepsItsPhase) {
  Harness h(1ms);
  std::vector<Duration> fired_at;
  h.wheel.run_every(10ms, [&] { fired_at.push_back(h.elapsed()); });
  h.advance_to(95ms);  // nine periods passed: one call, not nine
  h.advance_to(99ms);
  h.advance_to(100ms);
  h.advance_to(110ms);
  EXPECT_EQ(fired_at, (std::vector<Duration>{95ms, 100ms, 110ms}));
}

TEST(TimerWheelTest, RunEveryNeverOverlapsItself) {
  Harness h(10ms);
  int runs = 0;
  h.wheel.run_every(10ms, [&] { ++runs; });
  std::vector<TimerCallback> pending = h.advance_only(10ms);
  ASSERT_EQ(pending.size(), 1u);
  // Its callable has not run: later advances do not hand it out again.
  EXPECT_EQ(h.advance_only(20ms).size(), 0u);
  EXPECT_EQ(h.advance_only(30ms).size(), 0u);
  EXPECT_FALSE(h.wheel.next_deadline());
  pending[0]();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(h.advance_to(40ms), 1u);  // back on the wheel at its next period after 10ms: 20ms
  EXPECT_EQ(runs, 2);
}

// ---------------------------------------------------------------------------------------------
// size() and next_deadline()

TEST(TimerWheelTest, SizeAndNextDeadline) {
  Harness h(10ms, 512);
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_FALSE(h.wheel.next_deadline());
  EXPECT_EQ(h.wheel.tick(), 10ms);
  EXPECT_EQ(h.wheel.slots(), 512u);

  const TimerId a = h.wheel.run_after(35ms, [] {});
  EXPECT_EQ(h.wheel.next_deadline(), kT0 + 40ms);  // rounded up to the tick
  const TimerId b = h.wheel.run_after(5ms, [] {});
  EXPECT_EQ(h.wheel.next_deadline(), kT0 + 10ms);
  EXPECT_EQ(h.wheel.size(), 2u);
  EXPECT_TRUE(h.wheel.cancel(b));
  EXPECT_EQ(h.wheel.next_deadline(), kT0 + 40ms);
  EXPECT_TRUE(h.wheel.cancel(a));
  EXPECT_FALSE(h.wheel.next_deadline());

  // Beyond the first level: a lower bound, never later than the timer's tick.
  h.wheel.run_after(30s + 5ms, [] {});
  const std::optional<Clock::time_point> far = h.wheel.next_deadline();
  ASSERT_TRUE(far);
  EXPECT_GT(*far, h.now());
  EXPECT_LE(*far, kT0 + 30s + 10ms);

  // Due at once: a time not after the last advance().
  h.advance_to(15ms);
  h.wheel.run_after(0ms, [] {});
  const std::optional<Clock::time_point> due = h.wheel.next_deadline();
  ASSERT_TRUE(due);
  EXPECT_LE(*due, h.now());
  EXPECT_EQ(h.wheel.size(), 2u);

  // Handed out but not run yet still counts as live.
  std::vector<TimerCallback> out = h.advance_only(15ms);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(h.wheel.size(), 2u);
  out[0]();
  EXPECT_EQ(h.wheel.size(), 1u);
}

TEST(TimerWheelTest, RoundUpToTick) {
  Harness h(10ms);
  EXPECT_EQ(h.wheel.round_up_to_tick(kT0), kT0);
  EXPECT_EQ(h.wheel.round_up_to_tick(kT0 + 1ns), kT0 + 10ms);
  EXPECT_EQ(h.wheel.round_up_to_tick(kT0 + 10ms), kT0 + 10ms);
  EXPECT_EQ(h.wheel.round_up_to_tick(kT0 + 25ms), kT0 + 30ms);
  EXPECT_EQ(h.wheel.round_up_to_tick(kT0 - 15ms), kT0 - 10ms);
  EXPECT_EQ(h.wheel.round_up_to_tick(Clock::time_point::max()), Clock::time_point::max());
  // A timerfd armed there finds the timer due.
  int runs = 0;
  h.wheel.run_after(25ms, [&] { ++runs; });
  EXPECT_EQ(h.advance_to(h.wheel.round_up_to_tick(kT0 + 25ms) - kT0), 1u);
}

TEST(TimerWheelTest, RejectsInvalidArguments) {
  Harness h;
  EXPECT_THROW(h.wheel.run_after(1s, TimerCallback{}), std::invalid_argument);
  EXPECT_THROW(h.wheel.run_every(0s, [] {}), std::invalid_argument);
  EXPECT_THROW(h.wheel.run_every(-1s, [] {}), std::invalid_argument);
  EXPECT_THROW(TimerWheel(0ms), std::invalid_argument);
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_EQ(TimerWheel(1ms, 500).slots(), 512u);  // rounded up to a power of two
}

// ---------------------------------------------------------------------------------------------
// TimerCallback and allocation

TEST(TimerCallbackTest, StoresSmallCallablesInPlaceAndBoxesLargeOnes) {
  EXPECT_EQ(sizeof(TimerCallback), 48u);
  int runs = 0;
  auto counter = std::make_shared<int>(0);
  std::weak_ptr<int> weak = counter;
  const std::uint64_t before = g_allocations.load();
  TimerCallback small([weak, &runs] {
    if (auto p = weak.lock()) ++*p;
    ++runs;
  });
  TimerCallback moved(std::move(small));
  EXPECT_FALSE(small);  // NOLINT(bugprone-use-after-move): a moved-from callback is empty
  moved();
  EXPECT_EQ(g_allocations.load(), before);  // std::function would have allocated here
  EXPECT_EQ(*counter, 1);

  std::array<std::uint64_t, 16> big{};
  big[15] = 7;
  TimerCallback boxed([big, &runs] { runs += static_cast<int>(big[15]); });
  EXPECT_GT(g_allocations.load(), before);
  TimerCallback boxed_moved(std::move(boxed));
  boxed_moved();
  EXPECT_EQ(runs, 8);

  auto owned = std::make_unique<int>(5);
  TimerCallback move_only([p = std::move(owned), &runs] { runs += *p; });
  move_only();
  EXPECT_EQ(runs, 13);
}

TEST(TimerCallbackTest, DestroysItsCallableExactlyOnce) {
  auto token = std::make_shared<int>(0);
  {
    TimerCallback a([token] {});
    EXPECT_EQ(token.use_count(), 2);
    TimerCallback b(std::move(a));
    EXPECT_EQ(token.use_count(), 2);
    TimerCallback c;
    c = std::move(b);
    EXPECT_EQ(token.use_count(), 2);
    c = nullptr;
    EXPECT_EQ(token.use_count(), 1);
    c = [token] {};
    EXPECT_EQ(token.use_count(), 2);
  }
  EXPECT_EQ(token.use_count(), 1);
}

TEST(TimerWheelTest, NoAllocationPerTimerInSteadyState) {
  Harness h(1ms, 256);
  auto owner = std::make_shared<int>(0);
  std::weak_ptr<int> weak = owner;
  std::vector<TimerId> ids(20000);
  std::vector<TimerCallback> out;
  out.reserve(ids.size());
  const auto cycle = [&](Duration base) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ids[i] = h.wheel.run_after(base + Duration(static_cast<Duration::rep>(i) * 1000), [weak] {
        if (auto p = weak.lock()) ++*p;
      });
    }
    for (std::size_t i = 0; i < ids.size(); i += 2) h.wheel.touch(ids[i], 1s);
    for (std::size_t i = 0; i < ids.size(); i += 4) h.wheel.cancel(ids[i]);
    h.set(h.elapsed() + 2s);
    out.clear();
    h.wheel.advance(h.now(), out);
    for (TimerCallback& cb : out) cb();
  };
  cycle(10ms);  // grows the pool and the scratch vectors
  const std::uint64_t before = g_allocations.load();
  cycle(10ms);
  cycle(500ms);
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_EQ(*owner, 3 * 15000);
}

// The callback of a cancelled or fired timer is destroyed outside the wheel's lock, so its
// destructor may use the wheel (a connection's last reference going away, for instance).
TEST(TimerWheelTest, CallbackDestructorsMayCallTheWheel) {
  Harness h;
  struct CancelOnDestroy {
    TimerWheel* wheel;
    TimerId* victim;
    ~CancelOnDestroy() { wheel->cancel(*victim); }
  };
  TimerId victim = h.wheel.run_after(1s, [] {});
  TimerId victim2 = h.wheel.run_after(1s, [] {});
  auto guard = std::make_shared<CancelOnDestroy>(CancelOnDestroy{&h.wheel, &victim});
  const TimerId cancelled = h.wheel.run_after(10ms, [guard] {});
  auto guard2 = std::make_shared<CancelOnDestroy>(CancelOnDestroy{&h.wheel, &victim2});
  h.wheel.run_after(10ms, [guard2] {});
  guard.reset();
  guard2.reset();
  EXPECT_TRUE(h.wheel.cancel(cancelled));  // destroys the callback: cancels victim
  EXPECT_EQ(h.advance_to(10ms), 1u);       // runs and destroys the other: cancels victim2
  EXPECT_EQ(h.wheel.size(), 0u);
}

TEST(TimerWheelTest, AMillionLiveTimers) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr std::size_t kTimers = 100'000;  // the sanitizers' shadow memory would be large
#else
  constexpr std::size_t kTimers = 1'000'000;
#endif
  Harness h;  // the defaults: 10 ms tick, 512 slots
  std::vector<std::uint8_t> runs(kTimers);
  std::mt19937_64 rng(6);
  std::uniform_int_distribution<Duration::rep> delay_ns(1, Duration(60s).count());
  for (std::size_t i = 0; i < kTimers; ++i) {
    h.wheel.run_after(Duration(delay_ns(rng)), [&runs, i] { ++runs[i]; });
  }
  EXPECT_EQ(h.wheel.size(), kTimers);
  std::size_t fired = 0;
  for (Duration t = 10ms; t <= 60s; t += 10ms) fired += h.advance_to(t);
  EXPECT_EQ(fired, kTimers);
  EXPECT_TRUE(std::all_of(runs.begin(), runs.end(), [](std::uint8_t n) { return n == 1; }));
  EXPECT_EQ(h.wheel.size(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Threads

// Four threads schedule, cancel and touch while the test thread turns the wheel and runs the
// callbacks; some callbacks cancel other threads' timers. Every timer must end exactly once:
// either its callback ran or a cancel() returned true, never both, never neither.
TEST(TimerWheelTest, FourThreadsScheduleCancelAndTouchConcurrently) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  constexpr std::size_t kTimers = kThreads * kPerThread;
  Harness h(1ms, 64);
  std::vector<std::atomic<int>> ends(kTimers);
  std::vector<std::atomic<TimerId>> ids(kTimers);
  std::atomic<std::uint64_t> runs{0};
  std::atomic<std::uint64_t> cancels{0};
  std::atomic<std::uint64_t> touches{0};
  std::atomic<int> working{kThreads};

  const auto cancel_timer = [&](std::size_t slot) {
    if (h.wheel.cancel(ids[slot].load())) {
      ends[slot].fetch_add(1);
      cancels.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<std::uint32_t>(t));
      std::uniform_int_distribution<int> delay_us(0, 30000);
      std::uniform_int_distribution<std::size_t> any(0, kTimers - 1);
      const std::size_t base = static_cast<std::size_t>(t) * kPerThread;
      for (std::size_t k = 0; k < kPerThread; ++k) {
        const std::size_t slot = base + k;
        const std::size_t other = any(rng);
        ids[slot].store(
            h.wheel.run_after(std::chrono::microseconds(delay_us(rng)), [&, slot, other] {
              ends[slot].fetch_add(1);
              runs.fetch_add(1);
              if (slot % 7 == 0) cancel_timer(other);  // a callback cancelling someone else's timer
            }));
        if (k > 0 && rng() % 3 == 0) cancel_timer(base + rng() % k);
        if (k > 0 && rng() % 2 == 0 &&
            h.wheel.touch(ids[base + rng() % k].load(), std::chrono::microseconds(delay_us(rng)))) {
          touches.fetch_add(1);
        }
      }
      working.fetch_sub(1);
    });
  }
  Duration t = 0ms;
  while (working.load() > 0) {
    t += 1ms;
    h.advance_to(t);
    std::this_thread::yield();
  }
  for (std::thread& thread : threads) thread.join();
  h.advance_to(t + 1s);  // everything left is due

  for (std::size_t slot = 0; slot < kTimers; ++slot) ASSERT_EQ(ends[slot].load(), 1) << slot;
  EXPECT_EQ(runs.load() + cancels.load(), kTimers);
  EXPECT_GT(cancels.load(), 0u);
  EXPECT_GT(touches.load(), 0u);
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_FALSE(h.wheel.next_deadline());
}

// Periodic timers cancelled from other threads while their callbacks run on the advancing thread.
TEST(TimerWheelTest, PeriodicTimersCancelledFromOtherThreads) {
  Harness h(1ms, 64);
  constexpr int kTimers = 2000;
  std::vector<TimerId> ids(kTimers);
  std::vector<std::atomic<int>> after_cancel(kTimers);
  std::vector<std::atomic<bool>> cancelled(kTimers);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ids[i] = h.wheel.run_every(std::chrono::milliseconds(1 + i % 5), [&, i] {
      if (cancelled[i].load()) after_cancel[i].fetch_add(1);
    });
  }
  std::atomic<bool> done{false};
  std::thread canceller([&] {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      // Once cancel() has returned, the timer may finish a callback already under way but must
      // not start another: at most one run sees `cancelled`.
      EXPECT_TRUE(h.wheel.cancel(ids[i]));
      cancelled[i].store(true);
      if (i % 100 == 0) std::this_thread::yield();
    }
    done.store(true);
  });
  Duration t = 0ms;
  while (!done.load()) {
    t += 1ms;
    h.advance_to(t);
  }
  canceller.join();
  for (int k = 0; k < 20; ++k) h.advance_to(t += 1ms);
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_LE(after_cancel[i].load(), 1) << i;
  EXPECT_EQ(h.wheel.size(), 0u);
}

}  // namespace
}  // namespace lf
