// The timer service inside a running Server, under every concurrency model: callbacks run on the
// server's threads, one-shot and periodic timers, timers from many threads, and the
// idle-connection timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/server.h"
#include "support/models.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class TimerServiceTest : public ::testing::TestWithParam<Model> {};

ServerOptions options_with_tick(std::chrono::milliseconds tick, Model model) {
  ServerOptions options;
  options.model = model;
  options.threads = 3;
  options.handle_signals = false;
  options.timer_tick = tick;
  return options;
}

TEST_P(TimerServiceTest, CallbacksRunOnThreadSetThreadsNeverEarly) {
  Server server(options_with_tick(5ms, GetParam()));
  server.start();
  std::atomic<bool> on_pool_thread{false};
  std::atomic<Clock::rep> fired_at{0};
  const auto scheduled = Clock::now();
  server.timers().run_after(50ms, [&] {
    on_pool_thread = server.dispatcher().contains_this_thread();
    fired_at = Clock::now().time_since_epoch().count();
  });
  ASSERT_TRUE(eventually([&] { return fired_at.load() != 0; }));
  EXPECT_TRUE(on_pool_thread.load());
  EXPECT_GE(Clock::time_point(Clock::duration(fired_at.load())) - scheduled, 50ms);
  server.stop();
  server.wait();
}

TEST_P(TimerServiceTest, PeriodicTimerRepeatsUntilCancelled) {
  Server server(options_with_tick(5ms, GetParam()));
  server.start();
  std::atomic<int> runs{0};
  const TimerId id = server.timers().run_every(10ms, [&] { runs.fetch_add(1); });
  ASSERT_TRUE(eventually([&] { return runs.load() >= 5; }));
  EXPECT_TRUE(server.timers().cancel(id));
  const int at_cancel = runs.load();
  std::this_thread::sleep_for(130ms);  // 13 periods: a timer still armed would run again
  // Read once the server's threads have finished: the one run the timer thread may already have
  // taken off the wheel before cancel() can finish at any time (a fixed grace period after
  // cancel() raced it on a loaded machine), but no run after that.
  server.stop();
  server.wait();
  EXPECT_LE(runs.load(), at_cancel + 1) << "the timer kept firing after cancel()";
}

TEST_P(TimerServiceTest, ManyTimersFromManyThreadsEachFireOnce) {
  Server server(options_with_tick(2ms, GetParam()));
  server.start();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::atomic<int>> fired(kThreads * kPerThread);
  std::atomic<int> cancelled_fired{0};
  std::atomic<int> cancelled_late{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int index = t * kPerThread + i;
        server.timers().run_after(std::chrono::milliseconds(i % 50), [&fired, index] {
          fired[static_cast<std::size_t>(index)].fetch_add(1);
        });
        // And one that is cancelled at once: it must never run. A thread preempted for 20 ms
        // cancels too late (it has fired: cancel() says false); only those may have run.
        const TimerId doomed = server.timers().run_after(20ms, [&] { cancelled_fired++; });
        if (!server.timers().cancel(doomed)) cancelled_late++;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(eventually([&] {
    for (const auto& f : fired) {
      if (f.load() == 0) return false;
    }
    return true;
  }));
  std::this_thread::sleep_for(50ms);  // room for a duplicate or a cancelled timer to fire
  // Read once the server's threads have finished: a callback running now is counted too.
  server.stop();
  server.wait();
  for (const auto& f : fired) ASSERT_EQ(f.load(), 1);
  EXPECT_EQ(cancelled_fired.load(), cancelled_late.load())
      << "a timer ran although cancel() had returned true";
}

// Idle connections are closed one timeout after their last traffic (within a tick plus
// scheduling noise); connections with traffic more often than that are never closed.
TEST_P(TimerServiceTest, IdleConnectionsCloseAndActiveOnesStay) {
  constexpr auto kTick = 10ms;
  constexpr auto kTimeout = 200ms;
  Server server(options_with_tick(kTick, GetParam()));
  ListenOptions listen;
  listen.idle_timeout = kTimeout;
  const InetAddress address = server.listen<EchoConnection>(InetAddress(0, true), listen);
  server.start();

  test::TestClient idle(address, 5s);
  test::TestClient active(address, 5s);
  ASSERT_TRUE(idle.connected() && active.connected());
  // Taken before sending: the server's last traffic is later, so its deadline is too (taken
  // after the echo, it would lag the server's clock by the round trip on a loaded machine).
  const auto last_traffic = Clock::now();
  ASSERT_TRUE(idle.send_all("once"));
  ASSERT_EQ(idle.recv_exact(4), "once");

  std::atomic<bool> active_ok{true};
  std::thread pinger([&] {
    // Traffic every 50 ms for 5 timeouts: never silent long enough.
    for (int i = 0; i < 20 && active_ok; ++i) {
      if (!active.send_all("p") || active.recv_exact(1) != "p") active_ok = false;
      std::this_thread::sleep_for(50ms);
    }
  });
  ASSERT_TRUE(idle.wait_for_close());
  const auto closed_after = Clock::now() - last_traffic;
  pinger.join();
  EXPECT_TRUE(active_ok.load()) << "an active connection was closed";
  EXPECT_GE(closed_after, kTimeout) << "closed before its deadline";
  // One tick late at most by design; the rest is slack for a loaded 2-core machine.
  EXPECT_LE(closed_after, kTimeout + kTick + 150ms);
  EXPECT_EQ(server.connections(), 1u);
  active.close();
  server.stop();
  server.wait();
}

INSTANTIATE_TEST_SUITE_P(timers, TimerServiceTest, test::every_model(), test::model_param_name);

}  // namespace
}  // namespace lf
