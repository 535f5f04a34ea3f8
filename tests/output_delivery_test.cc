// Output is never lost: a streamed answer reaches a peer that half-closes and a peer of a
// stopping server; input a handler left in its buffer is handed back; pipelined requests above
// the high-water mark wait instead of filling memory; an exception in a hook closes only its own
// connection. Every test runs under every concurrency model.
//
// Test names all contain "delivery", so `ctest -R delivery` selects exactly this file.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "lf/metrics/metrics.h"
#include "lf/net/buffer.h"
#include "lf/net/stream_connection.h"
#include "lf/server.h"
#include "support/models.h"
#include "support/peak.h"
#include "support/running_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::TestClient;

constexpr std::size_t kChunks = 2000;
constexpr std::size_t kChunkSize = 1000;

using test::wait_until;

std::uint64_t counter(metrics::Counter which) { return metrics::snapshot().get(which); }

// Chunk i is kChunkSize copies of one letter, so a missing or reordered chunk is visible.
std::string chunk(std::size_t i) { return std::string(kChunkSize, static_cast<char>('a' + i % 26)); }

std::string whole_stream() {
  std::string all;
  for (std::size_t i = 0; i < kChunks; ++i) all += chunk(i);
  return all;
}

// Streams kChunks chunks after the peer writes "go": one from on_message, each next one from
// on_write_complete (the streaming producer the header describes). `endless` never stops.
class Streamer : public StreamConnection {
 public:
  explicit Streamer(bool endless = false) : endless_(endless) {}

 protected:
  void on_message(Buffer& input) override {
    if (input.view().find("go") == std::string_view::npos) return;
    input.retrieve_all();
    started_ = true;
    next();
  }
  void on_write_complete() override { next(); }

 private:
  void next() {
    if (!started_ || (!endless_ && sent_ == kChunks)) return;
    send(chunk(sent_++));
  }
  bool endless_;
  bool started_ = false;
  std::size_t sent_ = 0;
};

ServerOptions options_for(Model model) {
  ServerOptions options;
  options.model = model;
  options.threads = 4;
  options.handle_signals = false;
  return options;
}

using test::factory_of;
using test::RunningServer;

class Delivery : public ::testing::TestWithParam<Model> {};

TEST_P(Delivery, StreamedAnswerArrivesWholeWhenThePeerHalfCloses) {
  RunningServer server(factory_of<Streamer>(false), options_for(GetParam()));
  for (int run = 0; run < 3; ++run) {
    TestClient client(server.address());
    ASSERT_TRUE(client.send_all("go"));
    client.shutdown_write();  // the server sees "go" and the FIN together
    const std::optional<std::string> got = client.recv_until_eof();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->size(), kChunks * kChunkSize) << "run " << run;
    EXPECT_TRUE(*got == whole_stream()) << "run " << run << ": chunks lost or out of order";
  }
}

TEST_P(Delivery, StreamedAnswerArrivesWholeWhenTheServerStops) {
  RunningServer server(factory_of<Streamer>(false), options_for(GetParam()));
  const std::uint64_t drain_timeouts = counter(metrics::Counter::kDrainTimeouts);
  TestClient client(server.address());
  ASSERT_TRUE(client.send_all("go"));
  // Stop once the stream has begun, while most of it is still to be produced.
  const std::optional<std::string> first = client.recv_exact(kChunkSize);
  ASSERT_TRUE(first.has_value());
  std::thread stopper([&] { server.stop(); });
  const std::optional<std::string> rest = client.recv_until_eof();
  client.close();  // the peer closes after the server's FIN: the drain completes
  stopper.join();
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(first->size() + rest->size(), kChunks * kChunkSize);
  EXPECT_TRUE(*first + *rest == whole_stream()) << "chunks lost or out of order";
  EXPECT_EQ(counter(metrics::Counter::kDrainTimeouts), drain_timeouts);
}

TEST_P(Delivery, DrainDeadlineClosesAnEndlessStreamAndCountsIt) {
  ServerOptions options = options_for(GetParam());
  options.drain_timeout = 300ms;
  RunningServer server(factory_of<Streamer>(true), options);
  const std::uint64_t drain_timeouts = counter(metrics::Counter::kDrainTimeouts);
  TestClient client(server.address());
  ASSERT_TRUE(client.send_all("go"));
  ASSERT_TRUE(client.recv_exact(kChunkSize).has_value());
  // The client reads nothing more: the stream can never end, so only the deadline ends it.
  const auto started = Clock::now();
  server.stop();
  EXPECT_GE(Clock::now() - started, 250ms) << "closed before the drain deadline";
  EXPECT_EQ(counter(metrics::Counter::kDrainTimeouts), drain_timeouts + 1);
}

// Answers one line per on_message() call and leaves the rest in the input; `mode` says how it
// asks for the rest: deliver_buffered_input(), or pause_reading(true) with a foreign thread
// resuming it.
class OneLineAtATime : public StreamConnection {
 public:
  enum class Mode { kDeliverAgain, kPauseThenResume };
  explicit OneLineAtATime(Mode mode) : mode_(mode) {}

 protected:
  void on_message(Buffer& input) override {
    const char* eol = input.find_eol();
    if (eol == nullptr) return;
    send(std::string_view(input.peek(), static_cast<std::size_t>(eol + 1 - input.peek())));
    input.retrieve_until(eol + 1);
    if (input.find_eol() == nullptr) return;
    if (mode_ == Mode::kDeliverAgain) {
      deliver_buffered_input();
    } else {
      pause_reading(true);
      std::thread([self = std::static_pointer_cast<OneLineAtATime>(shared_from_this())] {
        std::this_thread::sleep_for(5ms);
        self->pause_reading(false);
      }).detach();
    }
  }

 private:
  Mode mode_;
};

TEST_P(Delivery, BufferedInputIsHandedBackWithoutNewBytes) {
  for (const auto mode : {OneLineAtATime::Mode::kDeliverAgain, OneLineAtATime::Mode::kPauseThenResume}) {
    RunningServer server(factory_of<OneLineAtATime>(mode), options_for(GetParam()));
    TestClient client(server.address(), 5s);
    const std::string lines = "one\ntwo\nthree\nfour\n";
    ASSERT_TRUE(client.send_all(lines));  // one write: the server reads all four lines at once
    EXPECT_EQ(client.recv_exact(lines.size()), lines)
        << "mode " << static_cast<int>(mode) << ": lines left in the buffer were never answered";
  }
}

// Answers every "get\n" with kAnswer bytes, for as long as the output is not full: the rule
// for handlers that answer pipelined requests. Records the most output it ever held.
struct BigAnswerStats {
  std::atomic<std::size_t> max_output{0};
  std::atomic<std::size_t> answered{0};
};

class BigAnswers : public StreamConnection {
 public:
  static constexpr std::size_t kMark = 4 * 1024 * 1024;
  static constexpr std::size_t kAnswer = 1024 * 1024;
  explicit BigAnswers(std::shared_ptr<BigAnswerStats> stats) : stats_(std::move(stats)) {
    set_high_water_mark(kMark);
  }

 protected:
  void on_message(Buffer& input) override {
    while (!output_full()) {
      const char* eol = input.find_eol();
      if (eol == nullptr) return;
      input.retrieve_until(eol + 1);
      send(std::string(kAnswer, static_cast<char>('A' + stats_->answered++ % 26)));
      test::raise_peak(stats_->max_output, output_bytes());
    }
  }

 private:
  std::shared_ptr<BigAnswerStats> stats_;
};

TEST_P(Delivery, PipelinedRequestsAboveTheMarkWaitAndAllGetAnswered) {
  auto stats = std::make_shared<BigAnswerStats>();
  RunningServer server(factory_of<BigAnswers>(stats), options_for(GetParam()));
  constexpr std::size_t kRequests = 300;  // 300 MiB of answers if nothing held them back
  TestClient client(server.address());
  std::string requests;
  for (std::size_t i = 0; i < kRequests; ++i) requests += "get\n";
  ASSERT_TRUE(client.send_all(requests));
  // The client does not read: the server answers until its output is full, then waits.
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(stats->answered.load(), kRequests) << "every request was answered into memory";
  EXPECT_LE(stats->max_output.load(), BigAnswers::kMark + BigAnswers::kAnswer)
      << "output grew past the mark plus one answer";
  // Then it reads everything: every answer arrives, in order.
  std::size_t received = 0;
  bool in_order = true;
  char buffer[65536];
  const auto deadline = Clock::now() + 60s;
  while (received < kRequests * BigAnswers::kAnswer && Clock::now() < deadline) {
    pollfd p{client.fd(), POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    const ssize_t n = ::recv(client.fd(), buffer, sizeof buffer, 0);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      const std::size_t index = (received + static_cast<std::size_t>(i)) / BigAnswers::kAnswer;
      in_order = in_order && buffer[i] == static_cast<char>('A' + index % 26);
    }
    received += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(received, kRequests * BigAnswers::kAnswer);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(stats->answered.load(), kRequests);
  EXPECT_LE(stats->max_output.load(), BigAnswers::kMark + BigAnswers::kAnswer);
  std::printf("[   INFO   ] most output held: %zu KiB (mark %zu KiB)\n",
              stats->max_output.load() / 1024, BigAnswers::kMark / 1024);
}

// Echoes lines; throws on "throw" (std::runtime_error) and "raise" (an int), in the hook named
// by the line's second word.
class Thrower : public StreamConnection {
 protected:
  void on_message(Buffer& input) override {
    while (const char* eol = input.find_eol()) {
      const std::string line(input.peek(), eol);
      input.retrieve_until(eol + 1);
      if (line == "throw") throw std::runtime_error("bad request");
      if (line == "raise") throw 42;
      if (line == "throw later") throw_on_write_ = true;
      send(line + "\n");
    }
  }
  void on_write_complete() override {
    if (throw_on_write_) throw std::logic_error("late failure");
  }

 private:
  bool throw_on_write_ = false;
};

TEST_P(Delivery, AnExceptionInAHookClosesOnlyItsConnection) {
  RunningServer server(factory_of<Thrower>(), options_for(GetParam()));
  const std::uint64_t exceptions = counter(metrics::Counter::kHandlerExceptions);
  TestClient bystander(server.address());
  ASSERT_TRUE(bystander.send_all("before\n"));
  ASSERT_EQ(bystander.recv_exact(7), "before\n");
  std::size_t thrown = 0;
  for (const std::string_view trigger : {"throw\n", "raise\n", "throw later\n"}) {
    TestClient victim(server.address(), 5s);
    ASSERT_TRUE(victim.send_all(trigger));
    EXPECT_TRUE(victim.wait_for_close()) << trigger << " did not close the connection";
    ++thrown;
    // The server and the other connection carry on.
    ASSERT_TRUE(bystander.send_all("still here\n"));
    EXPECT_EQ(bystander.recv_exact(11), "still here\n") << "after " << trigger;
  }
  EXPECT_TRUE(wait_until([&] { return server.server().connections() == 1; }));
  EXPECT_EQ(counter(metrics::Counter::kHandlerExceptions), exceptions + thrown);
}

INSTANTIATE_TEST_SUITE_P(delivery, Delivery, test::every_model(), test::model_param_name);

}  // namespace
}  // namespace lf
