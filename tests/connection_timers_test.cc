// A connection's own timers (start_timer, start_periodic, cancel_timer: each timer runs its own
// callback on the connection's owner) and its on_drain() hook, over real loopback sockets.
//
// No assertion on how long anything took, except that a timer never fires early: the tests
// assert order and counts, and wait for what they expect with generous deadlines.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lf/net/stream_connection.h"
#include "lf/server.h"
#include "support/models.h"
#include "support/overlap_probe.h"
#include "support/running_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Entries = std::vector<std::string>;

constexpr auto kPatience = 30s;  // how long a test waits for what it expects

// What the handlers did, in order, for the test thread to wait on and check.
class Journal {
 public:
  void add(std::string entry) {
    {
      std::lock_guard lock(mutex_);
      entries_.push_back(std::move(entry));
    }
    changed_.notify_all();
  }
  [[nodiscard]] Entries entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  [[nodiscard]] std::size_t count(const std::string& entry) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count(entries_.begin(), entries_.end(), entry));
  }
  // Waits until `entry` has been added `times` times; false after kPatience.
  bool wait_for(const std::string& entry, std::size_t times = 1) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] {
      return static_cast<std::size_t>(std::count(entries_.begin(), entries_.end(), entry)) >= times;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Entries entries_;
};

class TimerConnection;

// One test's handler behaviour and what it observed; shared by its connections.
struct Script {
  Journal journal;
  std::function<void(TimerConnection&)> on_connect;  // starts the test's timers
  std::function<void(TimerConnection&)> on_drain;    // empty: StreamConnection's default
  std::atomic<int> overlaps{0};  // a hook or callback found another one of its connection running

  std::mutex mutex;
  // The last one connected, for foreign threads. Weak: the connection holds this script, and a
  // strong pointer back would keep both alive for ever (LeakSanitizer says so).
  std::weak_ptr<TimerConnection> connection;
  std::shared_ptr<TimerConnection> wait_for_connection() {
    std::shared_ptr<TimerConnection> found;
    test::wait_until(
        [&] {
          std::lock_guard lock(mutex);
          found = connection.lock();
          return found != nullptr;
        },
        kPatience);
    return found;
  }
};

// Echoes lines; records its hooks (and the callbacks of record_after) in the script's journal,
// and counts any hook or timer callback that overlaps another of the same connection.
class TimerConnection : public StreamConnection {
 public:
  explicit TimerConnection(std::shared_ptr<Script> script) : script_(std::move(script)) {}

  // Public here so that a test thread may call them, as any foreign thread may.
  using StreamConnection::cancel_timer;
  using StreamConnection::start_periodic;
  using StreamConnection::start_timer;

  // A one-shot timer whose callback records `name`.
  TimerId record_after(Clock::duration delay, std::string name) {
    return start_timer(delay, [this, name] { record(name); });
  }
  // Records `entry` as a hook would: checking that nothing else of this connection runs.
  void record(const std::string& entry) {
    const test::OverlapProbe::Inside inside(overlap_);
    script_->journal.add(entry);
  }
  [[nodiscard]] Script& script() noexcept { return *script_; }

 protected:
  void on_connect() override {
    const test::OverlapProbe::Inside inside(overlap_);
    {
      std::lock_guard lock(script_->mutex);
      script_->connection = std::static_pointer_cast<TimerConnection>(shared_from_this());
    }
    if (script_->on_connect) script_->on_connect(*this);
  }
  void on_message(Buffer& input) override {
    const test::OverlapProbe::Inside inside(overlap_);
    send(input);
  }
  void on_drain() override {
    const test::OverlapProbe::Inside inside(overlap_);
    script_->journal.add("drain");
    if (script_->on_drain) {
      script_->on_drain(*this);
    } else {
      StreamConnection::on_drain();
    }
  }
  void on_close() override {
    const test::OverlapProbe::Inside inside(overlap_);
    script_->journal.add("close");
  }

 private:
  std::shared_ptr<Script> script_;
  test::OverlapProbe overlap_{script_->overlaps};
};

ServerOptions options_for(Model model) {
  ServerOptions options;
  options.model = model;
  options.threads = 4;
  options.handle_signals = false;
  // Far beyond any test: a connection that closes at stop closed because its handler (or the
  // default on_drain) said so, not because the deadline passed.
  options.drain_timeout = 60s;
  return options;
}

// Run under every concurrency model: the timer's wake-up reaches the connection through the
// model's own path (a loop's eventfd, the HandleSet's post queue).
class ConnectionTimersModel : public ::testing::TestWithParam<Model> {};

TEST_P(ConnectionTimersModel, TwoTimersRunTheirOwnCallbackOnceInDelayOrder) {
  auto script = std::make_shared<Script>();
  script->on_connect = [](TimerConnection& c) {
    c.record_after(20ms, "first");
    c.start_timer(60ms, [&c] {
      c.record("second");
      c.record_after(100ms, "sentinel");  // a duplicate firing would come before it
    });
  };
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(GetParam()));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(script->journal.wait_for("sentinel"));
  EXPECT_EQ(script->journal.entries(), (Entries{"first", "second", "sentinel"}));
  EXPECT_EQ(script->overlaps.load(), 0);
}

TEST_P(ConnectionTimersModel, TimersFiringTogetherEachRunTheirCallbackOnce) {
  auto script = std::make_shared<Script>();
  script->on_connect = [](TimerConnection& c) {
    // Due at the same tick (or the next): all fire while this hook still runs, so their
    // wake-ups reach the connection as one event. Each must still run its own callback.
    c.record_after(0ms, "a");
    c.record_after(0ms, "b");
    c.record_after(1ms, "c");
    std::this_thread::sleep_for(50ms);
    c.record_after(100ms, "sentinel");
  };
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(GetParam()));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(script->journal.wait_for("sentinel"));
  EXPECT_EQ(script->journal.entries(), (Entries{"a", "b", "c", "sentinel"}));
}

TEST_P(ConnectionTimersModel, CancelledTimerNeverRuns) {
  auto script = std::make_shared<Script>();
  script->on_connect = [](TimerConnection& c) {
    // Fired while this hook runs, not yet run: cancelling it still stops its callback.
    const TimerId fired = c.record_after(0ms, "fired and cancelled");
    std::this_thread::sleep_for(30ms);
    c.record(c.cancel_timer(fired) ? "cancelled 1" : "cancel 1 failed");
    const TimerId pending = c.record_after(50ms, "pending and cancelled");
    c.record(c.cancel_timer(pending) ? "cancelled 2" : "cancel 2 failed");
    c.record(c.cancel_timer(pending) ? "cancelled twice" : "second cancel refused");
    c.record(c.cancel_timer(TimerId{}) ? "cancelled nothing" : "invalid id refused");
    c.record_after(150ms, "sentinel");
  };
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(GetParam()));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(script->journal.wait_for("sentinel"));
  EXPECT_EQ(script->journal.entries(),
            (Entries{"cancelled 1", "cancelled 2", "second cancel refused", "invalid id refused",
                     "sentinel"}));
}

TEST_P(ConnectionTimersModel, PeriodicTimerCancelsItselfFromItsCallback) {
  auto script = std::make_shared<Script>();
  auto ticker = std::make_shared<TimerId>();  // written in on_connect, before the first tick
  auto ticks = std::make_shared<int>(0);      // touched by the callbacks only
  script->on_connect = [ticker, ticks](TimerConnection& c) {
    *ticker = c.start_periodic(10ms, [&c, ticker, ticks] {
      c.record("tick");
      if (++*ticks < 3) return;
      c.record(c.cancel_timer(*ticker) ? "cancelled" : "cancel failed");
      c.record_after(100ms, "sentinel");  // ten periods later: a tick after the cancel shows
    });
  };
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(GetParam()));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(script->journal.wait_for("sentinel"));
  EXPECT_EQ(script->journal.entries(), (Entries{"tick", "tick", "tick", "cancelled", "sentinel"}));
}

TEST_P(ConnectionTimersModel, ClosingCancelsEveryTimerAndNoCallbackRunsAfterOnClose) {
  auto script = std::make_shared<Script>();
  script->on_connect = [](TimerConnection& c) {
    c.start_periodic(5ms, [&c] { c.record("tick"); });
    c.record_after(1h, "far");
    // Holds the connection: closing must drop it, or the connection would never be freed.
    c.start_timer(1h, [self = c.shared_from_this()] {});
  };
  std::weak_ptr<TimerConnection> gone;
  {
    test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(GetParam()));
    test::TestClient client(server.address(), kPatience);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(script->journal.wait_for("tick", 2));
    std::shared_ptr<TimerConnection> connection = script->wait_for_connection();
    ASSERT_NE(connection, nullptr);

    // Another thread keeps starting timers while the peer closes: whichever the close does not
    // find are refused (invalid id) or cancelled when they fire; none runs after on_close.
    std::atomic<bool> stop{false};
    std::atomic<int> started{0};
    std::thread foreign([&] {
      while (!stop.load()) {
        if (connection->record_after(1ms, "foreign").valid()) started.fetch_add(1);
        std::this_thread::sleep_for(100us);
      }
    });
    ASSERT_TRUE(test::wait_until([&] { return started.load() > 10; }, kPatience));
    client.close();
    ASSERT_TRUE(script->journal.wait_for("close"));
    stop = true;
    foreign.join();
    EXPECT_FALSE(connection->start_timer(0ms, [] {}).valid()) << "a closed connection's timer";
    EXPECT_FALSE(connection->start_periodic(1ms, [] {}).valid());
    std::this_thread::sleep_for(200ms);  // forty periods of the ticker: room for a stray callback
    const Entries entries = script->journal.entries();
    ASSERT_FALSE(entries.empty());
    EXPECT_EQ(entries.back(), "close") << "a callback ran after on_close";
    EXPECT_EQ(script->journal.count("close"), 1u);
    EXPECT_EQ(script->journal.count("far"), 0u);
    EXPECT_EQ(script->overlaps.load(), 0);
    {
      std::lock_guard lock(script->mutex);
      script->connection.reset();
    }
    gone = connection;
  }
  // The timer holding a shared_ptr to the connection was destroyed with the close.
  EXPECT_TRUE(gone.expired());
}

// A goodbye sent from on_drain reaches the client after everything queued before it, then EOF.
// The output is still owed when the server stops (the client reads only then), so the goodbye
// waits behind it.
TEST_P(ConnectionTimersModel, OnDrainGoodbyeArrivesAfterPendingOutputAndBeforeEof) {
  auto script = std::make_shared<Script>();
  const std::string payload = test::random_bytes(2 * 1024 * 1024, 7);
  script->on_connect = [&payload](TimerConnection& c) {
    const int size = 32 * 1024;  // no kernel autotuning: most of the payload stays in our output
    ::setsockopt(c.handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    c.send(payload);
  };
  script->on_drain = [](TimerConnection& c) {
    c.send("goodbye\n");
    c.shutdown();
  };
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(GetParam()));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  std::shared_ptr<TimerConnection> connection = script->wait_for_connection();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(test::wait_until([&] { return connection->output_bytes() > 0; }, kPatience));
  connection.reset();

  std::thread stopper([&] { server.stop(); });
  ASSERT_TRUE(script->journal.wait_for("drain"));
  const auto received = client.recv_until_eof();
  client.close();
  stopper.join();
  ASSERT_TRUE(received.has_value()) << "no EOF";
  EXPECT_EQ(received->size(), payload.size() + 8);
  EXPECT_TRUE(*received == payload + "goodbye\n") << "bytes differ";
  EXPECT_EQ(script->journal.entries(), (Entries{"drain", "close"}));
  EXPECT_EQ(script->overlaps.load(), 0);
}

// Answers each line with kAnswer bytes of one letter, the next letter for the next line, and
// stops while output_full(): the other pipelined lines wait in its input (as HTTP and kv do).
class BigAnswers : public StreamConnection {
 public:
  static constexpr std::size_t kAnswer = 256 * 1024;
  BigAnswers() { set_high_water_mark(64 * 1024); }

 protected:
  void on_message(Buffer& input) override {
    while (!output_full()) {
      const char* eol = input.find_eol();
      if (eol == nullptr) return;
      input.retrieve_until(eol + 1);
      send(std::string(kAnswer, static_cast<char>('a' + answered_++ % 26)));
    }
  }
  void on_drain() override {
    send("goodbye\n");
    shutdown();
  }

 private:
  int answered_ = 0;
};

// Requests read but held back by the high-water mark when the server stops are answered before
// on_drain() runs: its goodbye comes after every answer, however slowly the client reads.
TEST_P(ConnectionTimersModel, OnDrainWaitsForPipelinedRequestsHeldByBackpressure) {
  constexpr int kLines = 32;  // 8 MiB of answers against a 64 KiB mark
  test::RunningServer server(test::factory_of<BigAnswers>(), options_for(GetParam()));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_all(std::string(kLines, '\n')));  // empty lines will do
  std::string expected;
  for (int i = 0; i < kLines; ++i) {
    expected.append(BigAnswers::kAnswer, static_cast<char>('a' + i % 26));
  }
  expected += "goodbye\n";

  std::thread stopper([&] { server.stop(); });
  const auto received = client.recv_until_eof();
  client.close();
  stopper.join();
  ASSERT_TRUE(received.has_value()) << "no EOF";
  EXPECT_EQ(received->size(), expected.size());
  EXPECT_TRUE(*received == expected) << "the goodbye came before an answer, or bytes differ";
}

// Without an on_drain of its own a connection drains as before: its output is sent, then EOF.
TEST_P(ConnectionTimersModel, DefaultOnDrainSendsPendingOutputThenEof) {
  auto script = std::make_shared<Script>();  // no on_drain: StreamConnection's default
  script->on_connect = [](TimerConnection& c) { c.send("hello\n"); };
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(GetParam()));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.recv_exact(6), "hello\n");
  ASSERT_TRUE(client.send_all("line\n"));
  EXPECT_EQ(client.recv_exact(5), "line\n");

  std::thread stopper([&] { server.stop(); });
  const auto received = client.recv_until_eof();
  client.close();
  stopper.join();
  ASSERT_TRUE(received.has_value()) << "no EOF before the client's timeout";
  EXPECT_EQ(*received, "");
  EXPECT_EQ(script->journal.entries(), (Entries{"drain", "close"}));
  EXPECT_EQ(server.server().connections(), 0u);
}

INSTANTIATE_TEST_SUITE_P(connection_timers, ConnectionTimersModel, test::every_model(),
                         test::model_param_name);

// ---------------------------------------------------------------------------------------------
// Under the default model only.

TEST(connection_timers, TimersNeverFireEarly) {
  auto script = std::make_shared<Script>();
  script->on_connect = [](TimerConnection& c) {
    // Delays off the 10 ms tick grid as well as on it.
    for (const auto delay : {0ms, 1ms, 7ms, 10ms, 13ms, 27ms, 55ms}) {
      const Clock::time_point start = Clock::now();
      c.start_timer(delay, [&c, start, delay] {
        c.record(Clock::now() - start >= delay ? "on time" : "early");
      });
    }
    // The n-th firing of a periodic timer comes at least n intervals after its start.
    const Clock::time_point start = Clock::now();
    auto ticker = std::make_shared<TimerId>();
    auto fired = std::make_shared<int>(0);
    *ticker = c.start_periodic(12ms, [&c, start, ticker, fired] {
      ++*fired;
      c.record(Clock::now() - start >= *fired * 12ms ? "on time" : "early");
      if (*fired == 4) c.cancel_timer(*ticker);
    });
  };
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(kDefaultModel));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(script->journal.wait_for("on time", 7 + 4));
  EXPECT_EQ(script->journal.count("early"), 0u);
}

TEST(connection_timers, PeriodicTimerCancelledFromAnotherThreadStops) {
  auto script = std::make_shared<Script>();
  std::atomic<int> ticks{0};  // outlives the server, which runs the callback
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(kDefaultModel));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  std::shared_ptr<TimerConnection> connection = script->wait_for_connection();
  ASSERT_NE(connection, nullptr);

  const TimerId ticker = connection->start_periodic(10ms, [&] { ticks.fetch_add(1); });
  ASSERT_TRUE(ticker.valid());
  ASSERT_TRUE(test::wait_until([&] { return ticks.load() >= 5; }, kPatience));
  EXPECT_TRUE(connection->cancel_timer(ticker));
  const int at_cancel = ticks.load();
  EXPECT_FALSE(connection->cancel_timer(ticker));
  // Ten periods later. A callback running while cancel_timer() was called may still count one;
  // nothing queued runs after it.
  connection->record_after(100ms, "sentinel");
  ASSERT_TRUE(script->journal.wait_for("sentinel"));
  EXPECT_LE(ticks.load(), at_cancel + 1);
  client.close();
  ASSERT_TRUE(script->journal.wait_for("close"));
}

// Threads start and cancel timers on one connection while its client talks to it: every timer
// whose cancel succeeded never runs, every other one runs once, and no callback overlaps a hook.
TEST(connection_timers, StartAndCancelFromManyThreads) {
  auto script = std::make_shared<Script>();
  std::atomic<int> ran{0};  // outlives the server, which runs the callbacks
  std::atomic<int> cancelled{0};
  test::RunningServer server(test::factory_of<TimerConnection>(script), options_for(kDefaultModel));
  test::TestClient client(server.address(), kPatience);
  ASSERT_TRUE(client.connected());
  std::shared_ptr<TimerConnection> connection = script->wait_for_connection();
  ASSERT_NE(connection, nullptr);

  constexpr int kThreads = 4;
  constexpr int kTimersPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTimersPerThread; ++i) {
        const TimerId id = connection->start_timer(std::chrono::milliseconds((i + t) % 4), [&] {
          connection->record("ran");  // checks that no hook of the connection runs meanwhile
          ran.fetch_add(1);
        });
        EXPECT_TRUE(id.valid());
        if (i % 2 == 0 && connection->cancel_timer(id)) cancelled.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 50; ++i) {  // no ASSERT before the threads are joined
    const std::string line = "line " + std::to_string(i) + "\n";
    EXPECT_TRUE(client.send_all(line));
    EXPECT_EQ(client.recv_exact(line.size()), line);
  }
  for (auto& thread : threads) thread.join();
  const int expected = kThreads * kTimersPerThread - cancelled.load();
  ASSERT_TRUE(test::wait_until([&] { return ran.load() >= expected; }, kPatience))
      << ran.load() << " of " << expected << " ran";
  connection->record_after(50ms, "sentinel");  // after every timer above: none is left to run
  ASSERT_TRUE(script->journal.wait_for("sentinel"));
  EXPECT_EQ(ran.load(), expected);
  EXPECT_EQ(script->overlaps.load(), 0);
  client.close();
  ASSERT_TRUE(script->journal.wait_for("close"));
  connection.reset();
}

}  // namespace
}  // namespace lf
