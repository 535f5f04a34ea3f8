// Google Benchmark: the timer wheel with 1,000,000 live timers (docs/perf.md, workload 8): schedule +
// cancel, touch, and advance() throughput. Clock reads and a bare mutex are measured alongside,
// because run_after() and touch() pay for one clock read and every operation for one lock.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "lf/timer/timer_wheel.h"

namespace {

using namespace std::chrono_literals;
using lf::TimerId;
using lf::TimerWheel;
using Clock = TimerWheel::Clock;
using Duration = Clock::duration;

// Idle timeouts spread over [1 s, 60 s), as 1,000,000 idle connections would have.
std::vector<TimerId> fill(TimerWheel& wheel, std::size_t n, std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<Duration::rep> delay(Duration(1s).count(), Duration(60s).count());
  std::vector<TimerId> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back(wheel.run_after(Duration(delay(rng)), [] {}));
  return ids;
}

void BM_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Clock::now());
}
BENCHMARK(BM_SteadyClockNow);

void BM_MutexLockUnlock(benchmark::State& state) {
  std::mutex mutex;
  for (auto _ : state) {
    mutex.lock();
    mutex.unlock();
  }
}
BENCHMARK(BM_MutexLockUnlock);

// run_after(30 s) + cancel: a connection's idle timer that is set up and torn down.
void BM_ScheduleCancel(benchmark::State& state) {
  TimerWheel wheel;
  fill(wheel, static_cast<std::size_t>(state.range(0)));
  std::uint64_t fired = 0;
  for (auto _ : state) {
    const TimerId id = wheel.run_after(30s, [&fired] { ++fired; });
    wheel.cancel(id);
  }
  state.counters["live"] = static_cast<double>(wheel.size());
}
BENCHMARK(BM_ScheduleCancel)->Arg(0)->Arg(1'000'000);

// As above with a different delay each time, so the insert lands in a cold slot.
void BM_ScheduleCancelRandomDelay(benchmark::State& state) {
  TimerWheel wheel;
  fill(wheel, static_cast<std::size_t>(state.range(0)));
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<Duration::rep> pick(1, Duration(60s).count());
  std::vector<Duration> delays(4096);
  for (Duration& d : delays) d = Duration(pick(rng));
  std::size_t i = 0;
  for (auto _ : state) {
    const TimerId id = wheel.run_after(delays[i++ & 4095], [] {});
    wheel.cancel(id);
  }
}
BENCHMARK(BM_ScheduleCancelRandomDelay)->Arg(1'000'000);

// run_at() + cancel: the wheel's own cost, without the clock read.
void BM_ScheduleAtCancel(benchmark::State& state) {
  TimerWheel wheel;
  fill(wheel, static_cast<std::size_t>(state.range(0)));
  const Clock::time_point deadline = Clock::now() + 30s;
  for (auto _ : state) {
    const TimerId id = wheel.run_at(deadline, [] {});
    wheel.cancel(id);
  }
}
BENCHMARK(BM_ScheduleAtCancel)->Arg(1'000'000);

// Both threads of a 2-vCPU machine scheduling and cancelling on one wheel.
std::unique_ptr<TimerWheel> g_shared;
void BM_ScheduleCancelShared(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_shared = std::make_unique<TimerWheel>();
    fill(*g_shared, 1'000'000);
  }
  for (auto _ : state) {
    const TimerId id = g_shared->run_after(30s, [] {});
    g_shared->cancel(id);
  }
  if (state.thread_index() == 0) g_shared.reset();
}
BENCHMARK(BM_ScheduleCancelShared)->Threads(1)->Threads(2)->UseRealTime();

// touch(30 s) of every live timer in turn: each node and its list neighbours are cold.
void BM_TouchCold(benchmark::State& state) {
  TimerWheel wheel;
  std::vector<TimerId> ids = fill(wheel, 1'000'000);
  std::mt19937_64 rng(3);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.touch(ids[i], 30s);
    if (++i == ids.size()) i = 0;
  }
}
BENCHMARK(BM_TouchCold);

// touch(30 s) of 1,000 busy connections' timers among 1,000,000 live ones.
void BM_TouchHot(benchmark::State& state) {
  TimerWheel wheel;
  std::vector<TimerId> ids = fill(wheel, 1'000'000);
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.touch(ids[i], 30s);
    if (++i == 1000) i = 0;
  }
}
BENCHMARK(BM_TouchHot);

// advance() through one minute of 10 ms ticks with 1,000,000 timers spread over it, running
// every callable: the cost per fired timer, cascades included.
void BM_AdvanceExpire(benchmark::State& state) {
  constexpr std::size_t kTimers = 1'000'000;
  const Clock::time_point start = Clock::now();
  Clock::time_point now = start;
  std::uint64_t fired = 0;
  std::vector<lf::TimerCallback> expired;
  std::unique_ptr<TimerWheel> wheel;
  for (auto _ : state) {
    state.PauseTiming();  // set-up (and the last wheel's destruction) is not measured
    wheel = std::make_unique<TimerWheel>(10ms, 512, start, [&now] { return now; });
    now = start;
    std::mt19937_64 rng(4);
    std::uniform_int_distribution<Duration::rep> delay(1, Duration(60s).count());
    for (std::size_t i = 0; i < kTimers; ++i) {
      wheel->run_after(Duration(delay(rng)), [&fired] { ++fired; });
    }
    state.ResumeTiming();
    while (now < start + 60s) {
      now += 10ms;
      expired.clear();
      wheel->advance(now, expired);
      for (lf::TimerCallback& cb : expired) cb();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(fired));
}
BENCHMARK(BM_AdvanceExpire)->Unit(benchmark::kMillisecond);

// Steady state: 1,000,000 live timers, each callback schedules a replacement (run_after reads the
// synthetic clock); one advance() per 1 ms tick, ~1,000 timers fired per tick.
void BM_AdvanceReschedule(benchmark::State& state) {
  Clock::time_point now = Clock::now();
  TimerWheel wheel(1ms, 512, now, [&now] { return now; });
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<Duration::rep> delay(1, Duration(2s).count());
  std::vector<Duration> delays(4096);
  for (Duration& d : delays) d = Duration(delay(rng));
  std::size_t next = 0;
  std::uint64_t fired = 0;
  struct Rearm {
    TimerWheel* wheel;
    std::vector<Duration>* delays;
    std::size_t* next;
    std::uint64_t* fired;
    void operator()() const {
      ++*fired;
      wheel->run_after((*delays)[(*next)++ & 4095], *this);
    }
  };
  const Rearm rearm{&wheel, &delays, &next, &fired};
  for (std::size_t i = 0; i < 1'000'000; ++i) rearm();
  std::vector<lf::TimerCallback> expired;
  for (int i = 0; i < 2000; ++i) {  // warm up into the steady state
    now += 1ms;
    expired.clear();
    wheel.advance(now, expired);
    for (lf::TimerCallback& cb : expired) cb();
  }
  fired = 0;
  for (auto _ : state) {
    now += 1ms;
    expired.clear();
    wheel.advance(now, expired);
    for (lf::TimerCallback& cb : expired) cb();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(fired));
  state.counters["live"] = static_cast<double>(wheel.size());
}
BENCHMARK(BM_AdvanceReschedule);

}  // namespace
