// StreamConnection behaviour over real loopback sockets: half-close, peer reset, back-pressure
// against a slow reader, send()/shutdown()/force_close() from foreign threads, hook order,
// IPv6, bind errors, graceful stop, descriptor leaks and SIGPIPE.
//
// Test names all contain "connection" (suite `connection`, or the instantiation prefix
// `connection/`), so `ctest -R connection` selects exactly this file.
//
// Every receive has a timeout (lf::test::TestClient, or poll(2) with a deadline below), so a
// broken server fails a test instead of hanging it.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/handlers/echo/echo_connection.h"
#include "lf/net/buffer.h"
#include "lf/net/inet_address.h"
#include "lf/net/socket.h"
#include "lf/net/stream_connection.h"
#include "lf/pattern/handle_set.h"
#include "lf/pattern/thread_set.h"
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

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Helpers.

using test::wait_until;

// Note: a closing connection leaves the HandleSet (connections() drops) just before its
// on_close() runs, so counts kept by on_close() are awaited separately.
bool wait_for_connections(Server& server, std::size_t n, std::chrono::milliseconds limit = 10s) {
  return wait_until([&] { return server.connections() == n; }, limit);
}

ServerOptions test_options(Model model = Model::kLeaderFollowers) {
  ServerOptions options = test::BackgroundServer<EchoConnection>::default_options();
  options.model = model;
  return options;
}

// The tests of the connection's invariants run under every concurrency model.
class ConnectionModel : public ::testing::TestWithParam<Model> {};

using test::factory_of;
using test::RunningServer;

// Connections that registered themselves in on_connect, for foreign threads to reach them.
template <typename Handler>
class Registry {
 public:
  void add(const std::shared_ptr<Handler>& handler) {
    {
      std::lock_guard lock(mutex_);
      handlers_.push_back(handler);
    }
    changed_.notify_all();
  }
  // The i-th connection that registered (null if it did not within `limit`, or is gone).
  std::shared_ptr<Handler> get(std::size_t i, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, limit, [&] { return handlers_.size() > i; })) return nullptr;
    return handlers_[i].lock();
  }
  std::vector<std::shared_ptr<Handler>> all() {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Handler>> result;
    for (const auto& weak : handlers_) {
      if (auto handler = weak.lock()) result.push_back(std::move(handler));
    }
    return result;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::weak_ptr<Handler>> handlers_;
};

// Writes `out` and reads at the same time (so neither side blocks on full socket buffers),
// handing every chunk read to on_data, until on_data returns true, EOF, an error or `limit`.
// Returns true if on_data returned true.
bool exchange(int fd, std::string_view out,
              const std::function<bool(std::string_view)>& on_data,
              std::chrono::milliseconds limit = 30s) {
  std::size_t sent = 0;
  std::vector<char> chunk(64 * kKiB);
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    pollfd p{fd, static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 100) < 0 && errno != EINTR) return false;
    if ((p.revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      for (;;) {
        const ssize_t r = ::recv(fd, chunk.data(), chunk.size(), 0);
        if (r > 0) {
          if (on_data(std::string_view(chunk.data(), static_cast<std::size_t>(r)))) return true;
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        return false;  // EOF or error before on_data was satisfied
      }
    }
    if ((p.revents & POLLOUT) != 0) {
      while (sent < out.size()) {
        const ssize_t w = ::send(fd, out.data() + sent, std::min(out.size() - sent, 64 * kKiB),
                                 MSG_NOSIGNAL);
        if (w > 0) {
          sent += static_cast<std::size_t>(w);
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
          break;
        } else {
          return false;
        }
      }
    }
  }
  return false;
}

// Reads until EOF, an error or `limit`: what arrived, and whether EOF was seen.
struct ReadResult {
  std::string data;
  bool eof = false;
};
ReadResult read_to_eof(int fd, std::chrono::milliseconds limit = 5s) {
  ReadResult result;
  exchange(fd, "", [&](std::string_view in) {
    result.data.append(in);
    return false;
  }, limit);
  // exchange() returned on EOF, error or timeout: tell them apart with one more look.
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) == 1) {
    char byte = 0;
    result.eof = ::recv(fd, &byte, 1, MSG_PEEK) == 0;
  }
  return result;
}

// Round trip of `data` through an echo server on a fresh connection; true if it came back intact.
bool echo_round_trip(const InetAddress& server, std::string_view data) {
  TestClient client(server);
  if (!client.connected() || !client.send_all(data)) return false;
  const auto back = client.recv_exact(data.size());
  return back && *back == data;
}

// ---------------------------------------------------------------------------------------------
// The peer closes: half-close (the client sends, then shutdown(SHUT_WR), and must get every
// byte back, then EOF), and a full close right after sending (the server must release the
// connection). Every model; a small message (data and FIN usually reach the
// server together) and a large one (the FIN arrives while the echo is being written).

class PeerClose : public ::testing::TestWithParam<std::tuple<Model, std::size_t>> {};

TEST_P(PeerClose, HalfCloseGetsEveryByteBackThenEof) {
  const auto [model, size] = GetParam();
  test::BackgroundServer<EchoConnection> server(test_options(model));
  // Several rounds: with small messages the data and the FIN usually reach the server together,
  // with large ones the FIN arrives while the echo is still being written.
  for (int round = 0; round < 10; ++round) {
    const std::string data = test::random_bytes(size, 100 + static_cast<std::uint64_t>(round));
    TestClient client(server.address(), 5s);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_all(data));  // the server buffers the echo: the size is < 64 MiB
    client.shutdown_write();
    const ReadResult back = read_to_eof(client.fd(), 5s);
    ASSERT_EQ(back.data.size(), data.size()) << "round " << round;
    EXPECT_EQ(test::checksum(back.data), test::checksum(data)) << "round " << round;
    ASSERT_TRUE(back.eof) << "round " << round << ": the whole echo arrived but no EOF within 5 s";
  }
  // The server closed every connection after flushing (the client only half-closed).
  EXPECT_TRUE(wait_for_connections(server.server(), 0));
}

// Reads and drops everything (RFC 863 discard): nothing is ever written back, so the peer's close
// is an orderly FIN, not a reset caused by unread data.
class DiscardConnection : public StreamConnection {
 protected:
  void on_message(Buffer& input) override { input.retrieve_all(); }
};

// The peer sends and closes at once: the server must notice the close and release the
// connection, or it holds the socket (and its memory) for good.
TEST_P(PeerClose, SendThenCloseReleasesTheConnection) {
  const auto [model, size] = GetParam();
  test::BackgroundServer<DiscardConnection> server(test_options(model));
  for (int round = 0; round < 10; ++round) {
    TestClient client(server.address());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(wait_for_connections(server.server(), 1));
    ASSERT_TRUE(client.send_all(test::random_bytes(size, 1)));
    client.close();
    ASSERT_TRUE(wait_for_connections(server.server(), 0, 5s))
        << "round " << round << ": the server never closed a connection its peer closed";
  }
}

// An upload followed by a half-close: the server reads it all and then the FIN, although the FIN
// was reported (edge triggered: once) while megabytes were still unread, and closes.
TEST_P(PeerClose, UploadThenHalfCloseIsReadToTheEnd) {
  const auto [model, size] = GetParam();
  test::BackgroundServer<DiscardConnection> server(test_options(model));
  for (int round = 0; round < 10; ++round) {
    TestClient client(server.address());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_all(test::random_bytes(size, 2)));
    client.shutdown_write();
    ASSERT_TRUE(read_to_eof(client.fd(), 5s).eof)
        << "round " << round << ": the server never saw the FIN behind the upload";
  }
  EXPECT_TRUE(wait_for_connections(server.server(), 0));
}

INSTANTIATE_TEST_SUITE_P(
    connection, PeerClose,
    ::testing::Combine(test::every_model(), ::testing::Values(std::size_t{13}, 2 * kMiB, 8 * kMiB)),
    [](const auto& test_info) {
      return test::model_name(std::get<0>(test_info.param)) + "_" +
             std::to_string(std::get<1>(test_info.param)) + "Bytes";
    });

// ---------------------------------------------------------------------------------------------
// Peer reset in the middle of a message.

// Length-prefixed messages (4-byte big-endian length, then the payload): echoes each message
// once it is complete, so a half-sent message is held and gets no answer.
class MessageEcho : public StreamConnection {
 protected:
  void on_message(Buffer& input) override {
    while (input.readable_bytes() >= 4) {
      const auto length = static_cast<std::uint32_t>(input.peek_int32());
      if (input.readable_bytes() - 4 < length) return;
      send(std::string_view(input.peek(), 4 + std::size_t{length}));
      input.retrieve(4 + std::size_t{length});
    }
  }
};

std::string framed(std::string_view payload) {
  Buffer buffer;
  buffer.append_int32(static_cast<std::int32_t>(payload.size()));
  buffer.append(payload);
  return buffer.retrieve_all_as_string();
}

bool message_round_trip(TestClient& client, std::string_view payload) {
  const std::string message = framed(payload);
  if (!client.send_all(message)) return false;
  const auto back = client.recv_exact(message.size());
  return back && *back == message;
}

class PeerReset : public ::testing::TestWithParam<Model> {};

TEST_P(PeerReset, MidMessageClosesOnlyThatConnection) {
  test::BackgroundServer<MessageEcho> server(test_options(GetParam()));
  const std::string big = framed(test::random_bytes(8 * kMiB, 7));

  // A client that stays connected throughout and must be served before and after the resets.
  TestClient steady(server.address());
  ASSERT_TRUE(steady.connected());
  ASSERT_TRUE(message_round_trip(steady, test::random_bytes(100 * kKiB, 8)));

  for (int round = 0; round < 5; ++round) {
    TestClient resetter(server.address());
    ASSERT_TRUE(resetter.connected());
    ASSERT_TRUE(wait_for_connections(server.server(), 2));
    // Half of a large message, then a reset: the server holds the half and owes no answer.
    ASSERT_TRUE(resetter.send_all(std::string_view(big).substr(0, big.size() / 2)));
    resetter.reset();
    // The server notices the reset and closes only that connection.
    ASSERT_TRUE(wait_for_connections(server.server(), 1, 5s))
        << "round " << round << ": the reset connection is still open";
    // The other client keeps being served correctly, and so are new ones.
    const std::string more = test::random_bytes(300 * kKiB, 9 + static_cast<std::uint64_t>(round));
    EXPECT_TRUE(message_round_trip(steady, more)) << "round " << round;
    TestClient fresh(server.address());
    EXPECT_TRUE(message_round_trip(fresh, more)) << "round " << round;
    fresh.close();
    ASSERT_TRUE(wait_for_connections(server.server(), 1));
  }
  steady.close();
  EXPECT_TRUE(wait_for_connections(server.server(), 0));
}

INSTANTIATE_TEST_SUITE_P(connection, PeerReset, test::every_model(), test::model_param_name);

// ---------------------------------------------------------------------------------------------
// Back-pressure: a client that writes 16 MiB and never reads.

struct SlowReaderStats {
  std::atomic<int> high_water_events{0};
  std::atomic<std::size_t> max_output{0};  // largest output_bytes() seen by the connection
  std::atomic<std::size_t> max_read{0};    // largest input handed to one on_message()
  std::atomic<std::size_t> bytes_in{0};
};

class SlowReaderEcho : public StreamConnection {
 public:
  static constexpr std::size_t kHighWaterMark = 256 * kKiB;

  explicit SlowReaderEcho(std::shared_ptr<SlowReaderStats> stats,
                          std::shared_ptr<Registry<SlowReaderEcho>> registry)
      : stats_(std::move(stats)), registry_(std::move(registry)) {
    set_high_water_mark(kHighWaterMark);
  }

 protected:
  void on_connect() override {
    registry_->add(std::static_pointer_cast<SlowReaderEcho>(shared_from_this()));
  }
  void on_message(Buffer& input) override {
    stats_->bytes_in += input.readable_bytes();
    test::raise_peak(stats_->max_read, input.readable_bytes());
    send(input);
    test::raise_peak(stats_->max_output, output_bytes());  // the peak: output only grows here
  }
  void on_high_water_mark(std::size_t pending) override {
    ++stats_->high_water_events;
    test::raise_peak(stats_->max_output, pending);
  }

 private:
  std::shared_ptr<SlowReaderStats> stats_;
  std::shared_ptr<Registry<SlowReaderEcho>> registry_;
};

TEST_P(ConnectionModel, SlowReaderOutputStaysBoundedAndServerStopsReading) {
  auto stats = std::make_shared<SlowReaderStats>();
  auto registry = std::make_shared<Registry<SlowReaderEcho>>();
  RunningServer server(factory_of<SlowReaderEcho>(stats, registry), test_options(GetParam()));
  // Bound on the server's buffered output: the high-water mark plus one read's worth.
  constexpr std::size_t kBound = 1 * kMiB;

  // More than the kernel can hold on the way: the server's receive buffer alone autotunes up to
  // tcp_rmem's maximum (32 MiB here), and 16 MiB were once all absorbed under load.
  const std::string data = test::random_bytes(48 * kMiB, 16);
  TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  const int fd = client.fd();  // non-blocking

  // Phase 1: write without reading until the writes block for a full second.
  std::size_t written = 0;
  auto last_progress = Clock::now();
  while (written < data.size() && Clock::now() - last_progress < 1s) {
    const ssize_t w =
        ::send(fd, data.data() + written, std::min(data.size() - written, 64 * kKiB), MSG_NOSIGNAL);
    if (w > 0) {
      written += static_cast<std::size_t>(w);
      last_progress = Clock::now();
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 50);
    } else {
      FAIL() << "send: " << std::strerror(errno);
    }
  }
  EXPECT_LT(written, data.size()) << "the client's writes never blocked";
  EXPECT_GE(stats->high_water_events.load(), 1) << "on_high_water_mark did not run";

  // The server has stopped reading: its input count does not move while the client waits.
  auto connection = registry->get(0);
  ASSERT_NE(connection, nullptr);
  const std::size_t in_before = stats->bytes_in.load();
  for (int i = 0; i < 30; ++i) {
    test::raise_peak(stats->max_output, connection->output_bytes());
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(stats->bytes_in.load(), in_before) << "the server kept reading while paused";
  EXPECT_LT(stats->bytes_in.load(), data.size());
  EXPECT_GT(connection->output_bytes(), 0u) << "paused, so the server must hold unsent output";
  EXPECT_LE(connection->output_bytes(), kBound);
  std::printf("[   INFO   ] blocked after %zu KiB written, server read %zu KiB, holds %zu KiB; "
              "so far: max buffered %zu KiB, largest read %zu KiB\n",
              written / kKiB, in_before / kKiB, connection->output_bytes() / kKiB,
              stats->max_output.load() / kKiB, stats->max_read.load() / kKiB);

  // Phase 2: the client reads (and writes the rest); everything comes back intact.
  std::string back;
  back.reserve(data.size());
  const bool done = exchange(fd, std::string_view(data).substr(written), [&](std::string_view in) {
    back.append(in);
    return back.size() >= data.size();
  });
  EXPECT_TRUE(done) << "got " << back.size() << " of " << data.size() << " bytes back";
  EXPECT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data) << "the echo differs from what was sent";
  EXPECT_EQ(test::checksum(back), test::checksum(data));

  std::printf("[   INFO   ] high-water events: %d, max buffered output: %zu KiB, "
              "largest single read: %zu KiB\n",
              stats->high_water_events.load(), stats->max_output.load() / kKiB,
              stats->max_read.load() / kKiB);
  EXPECT_GT(stats->max_output.load(), SlowReaderEcho::kHighWaterMark);
  // Reading pauses as soon as the mark is crossed: at most one read beyond it.
  EXPECT_LE(stats->max_output.load(), SlowReaderEcho::kHighWaterMark + stats->max_read.load());
  // And one read is small: the bound of about 1 MiB in all.
  EXPECT_LE(stats->max_output.load(), kBound)
      << "buffered output exceeded the high-water mark plus one read of ordinary size (the "
         "largest single read was "
      << stats->max_read.load() / kKiB << " KiB)";
  connection.reset();
  client.close();
  EXPECT_TRUE(wait_for_connections(server.server(), 0));
}

// ---------------------------------------------------------------------------------------------
// Foreign threads: send(), force_close() and shutdown() through a shared_ptr.

// Echoes whole lines: each send() carries complete lines only, so output from several threads
// can interleave only at line boundaries.
class LineEcho : public StreamConnection {
 public:
  explicit LineEcho(std::shared_ptr<Registry<LineEcho>> registry,
                    std::shared_ptr<std::atomic<int>> closes)
      : registry_(std::move(registry)), closes_(std::move(closes)) {}

 protected:
  void on_connect() override {
    registry_->add(std::static_pointer_cast<LineEcho>(shared_from_this()));
  }
  void on_message(Buffer& input) override {
    const std::size_t end = input.view().rfind('\n');
    if (end == std::string_view::npos) return;
    send(input.view().substr(0, end + 1));
    input.retrieve(end + 1);
  }
  void on_close() override { ++*closes_; }

 private:
  std::shared_ptr<Registry<LineEcho>> registry_;
  std::shared_ptr<std::atomic<int>> closes_;
};

// Line `index` of stream `kind` ('F' foreign, 'E' echo), without its '\n': "F00000042:" plus a
// payload whose length (0..~500) and letters depend on the kind and the index.
std::string make_line(char kind, std::size_t index) {
  char head[16];
  std::snprintf(head, sizeof head, "%c%08zu:", kind, index);
  std::string line(head);
  const std::size_t length = (index * (kind == 'F' ? 7919u : 104729u)) % 509;
  for (std::size_t j = 0; j < length; ++j) {
    line.push_back(static_cast<char>('a' + (index * 31 + j * 7 + static_cast<std::size_t>(kind)) % 26));
  }
  return line;
}

// Checks a received stream of F and E lines: each kind complete, in order and uncorrupted.
class LineChecker {
 public:
  LineChecker(std::size_t foreign, std::size_t echoed) : total_f_(foreign), total_e_(echoed) {}

  // Feeds received bytes; true once every expected line has arrived.
  bool feed(std::string_view data) {
    partial_.append(data);
    std::size_t start = 0;
    for (std::size_t end; (end = partial_.find('\n', start)) != std::string::npos; start = end + 1) {
      check(std::string_view(partial_).substr(start, end - start));
    }
    partial_.erase(0, start);
    return complete();
  }
  [[nodiscard]] bool complete() const { return next_f_ == total_f_ && next_e_ == total_e_; }
  [[nodiscard]] std::size_t foreign() const { return next_f_; }
  [[nodiscard]] std::size_t echoed() const { return next_e_; }
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }
  [[nodiscard]] bool leftover() const { return !partial_.empty(); }

 private:
  void check(std::string_view line) {
    std::size_t* next = nullptr;
    std::size_t total = 0;
    if (!line.empty() && line[0] == 'F') {
      next = &next_f_;
      total = total_f_;
    } else if (!line.empty() && line[0] == 'E') {
      next = &next_e_;
      total = total_e_;
    } else {
      return error("line of unknown kind: " + std::string(line.substr(0, 40)));
    }
    if (*next >= total) return error("extra line: " + std::string(line.substr(0, 40)));
    if (line != make_line(line[0], *next)) {
      return error("expected line " + std::string(1, line[0]) + std::to_string(*next) +
                   ", got: " + std::string(line.substr(0, 40)));
    }
    ++*next;
  }
  void error(std::string text) {
    if (errors_.size() < 10) errors_.push_back(std::move(text));
  }

  std::size_t total_f_;
  std::size_t total_e_;
  std::size_t next_f_ = 0;
  std::size_t next_e_ = 0;
  std::string partial_;
  std::vector<std::string> errors_;
};

TEST_P(ConnectionModel, ForeignThreadSendKeepsLinesWholeAndInOrder) {
  auto registry = std::make_shared<Registry<LineEcho>>();
  auto closes = std::make_shared<std::atomic<int>>(0);
  RunningServer server(factory_of<LineEcho>(registry, closes), test_options(GetParam()));
  constexpr std::size_t kForeignLines = 20000;
  constexpr std::size_t kEchoLines = 20000;

  std::string echo_stream;
  for (std::size_t i = 0; i < kEchoLines; ++i) echo_stream += make_line('E', i) + '\n';

  TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  auto connection = registry->get(0);
  ASSERT_NE(connection, nullptr);

  // The foreign thread sends numbered lines while the client's lines are being echoed; one
  // send() per line, alternating between the string_view and the Buffer overloads.
  std::atomic<bool> go{false};
  std::thread foreign([&] {
    while (!go.load()) std::this_thread::yield();
    Buffer buffer;
    for (std::size_t i = 0; i < kForeignLines; ++i) {
      const std::string line = make_line('F', i) + '\n';
      if (i % 2 == 0) {
        connection->send(line);
      } else {
        buffer.append(line);
        connection->send(buffer);
        if (buffer.readable_bytes() != 0) ADD_FAILURE() << "send(Buffer&) left data behind";
      }
      if (i % 64 == 0) std::this_thread::yield();
    }
  });
  LineChecker checker(kForeignLines, kEchoLines);
  go.store(true);
  const bool done = exchange(client.fd(), echo_stream, [&](std::string_view in) {
    return checker.feed(in);
  });
  foreign.join();

  for (const std::string& error : checker.errors()) ADD_FAILURE() << error;
  EXPECT_TRUE(done) << "foreign lines " << checker.foreign() << "/" << kForeignLines
                    << ", echoed lines " << checker.echoed() << "/" << kEchoLines;
  EXPECT_FALSE(checker.leftover()) << "a partial line after the last expected one";
  connection.reset();
  client.close();
  EXPECT_TRUE(wait_for_connections(server.server(), 0));
  EXPECT_TRUE(wait_until([&] { return closes->load() >= 1; }));
  EXPECT_EQ(closes->load(), 1);
}

// A LineEcho server with one client whose first line ("hello") has come back, and the server's
// side of that connection: the start of the foreign-thread close tests.
struct EchoedLine {
  std::shared_ptr<Registry<LineEcho>> registry = std::make_shared<Registry<LineEcho>>();
  std::shared_ptr<std::atomic<int>> closes = std::make_shared<std::atomic<int>>(0);
  RunningServer server;
  TestClient client;
  std::shared_ptr<LineEcho> connection;

  explicit EchoedLine(Model model)
      : server(factory_of<LineEcho>(registry, closes), test_options(model)),
        client(server.address()) {}

  void open() {
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_all("hello\n"));
    ASSERT_EQ(client.recv_exact(6), "hello\n");
    connection = registry->get(0);
    ASSERT_NE(connection, nullptr);
  }
};

TEST_P(ConnectionModel, ForeignThreadForceCloseClosesAfterWhatWasSent) {
  EchoedLine setup(GetParam());
  ASSERT_NO_FATAL_FAILURE(setup.open());
  RunningServer& server = setup.server;
  TestClient& client = setup.client;
  const auto& closes = setup.closes;
  const auto& connection = setup.connection;
  EXPECT_TRUE(connection->connected());

  std::thread([&] { connection->force_close(); }).join();

  // Nothing was owed: the client sees a clean EOF with no further byte.
  const auto rest = client.recv_until_eof();
  ASSERT_TRUE(rest.has_value()) << "no EOF after force_close()";
  EXPECT_EQ(*rest, "");
  EXPECT_TRUE(wait_until([&] { return !connection->connected(); }));
  EXPECT_TRUE(wait_for_connections(server.server(), 0));
  EXPECT_TRUE(wait_until([&] { return closes->load() >= 1; }));
  EXPECT_EQ(closes->load(), 1);
  // send() after the close is dropped, not queued and not crashing.
  connection->send("late\n");
  EXPECT_EQ(connection->output_bytes(), 0u);
}

TEST_P(ConnectionModel, ForeignThreadShutdownFlushesThenSendsEof) {
  EchoedLine setup(GetParam());
  ASSERT_NO_FATAL_FAILURE(setup.open());
  RunningServer& server = setup.server;
  TestClient& client = setup.client;
  const auto& closes = setup.closes;
  const auto& connection = setup.connection;

  // The foreign thread queues ~1 MiB (more than the socket buffers take at once), then
  // shutdown(): the client must get all of it, then EOF.
  std::string tail;
  for (std::size_t i = 0; tail.size() < kMiB; ++i) tail += make_line('T', i) + '\n';
  std::thread([&] {
    connection->send(tail);
    connection->shutdown();
  }).join();

  const auto back = client.recv_until_eof();
  ASSERT_TRUE(back.has_value()) << "no EOF after shutdown()";
  EXPECT_EQ(back->size(), tail.size());
  EXPECT_TRUE(*back == tail);
  // Half-closed: the server keeps the connection until the client closes its side.
  EXPECT_EQ(server.server().connections(), 1u);
  EXPECT_EQ(closes->load(), 0);
  client.close();
  EXPECT_TRUE(wait_for_connections(server.server(), 0));
  EXPECT_TRUE(wait_until([&] { return closes->load() >= 1; }));
  EXPECT_EQ(closes->load(), 1);
}

// ---------------------------------------------------------------------------------------------
// Hook order: on_connect before on_message, hooks never concurrent, on_close exactly once.

struct HookStats {
  std::atomic<int> constructed{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> connects{0};
  std::atomic<int> messages{0};
  std::atomic<int> closes{0};
  std::atomic<int> violations{0};
  std::mutex mutex;
  std::vector<std::string> what;  // the first violations, described

  void violation(const char* text) {
    ++violations;
    std::lock_guard lock(mutex);
    if (what.size() < 10) what.emplace_back(text);
  }
};

class HookProbe : public StreamConnection {
 public:
  explicit HookProbe(std::shared_ptr<HookStats> stats) : stats_(std::move(stats)) {
    ++stats_->constructed;
  }
  ~HookProbe() override { ++stats_->destroyed; }

 protected:
  void on_connect() override {
    const Enter enter(this);
    if (saw_connect_) stats_->violation("on_connect ran twice");
    if (close_calls_ != 0) stats_->violation("on_connect after on_close");
    saw_connect_ = true;
    ++stats_->connects;
  }
  void on_message(Buffer& input) override {
    const Enter enter(this);
    if (!saw_connect_) stats_->violation("on_message before on_connect");
    if (close_calls_ != 0) stats_->violation("on_message after on_close");
    ++stats_->messages;
    send(input);
  }
  void on_write_complete() override {
    const Enter enter(this);
    if (!saw_connect_) stats_->violation("on_write_complete before on_connect");
    if (close_calls_ != 0) stats_->violation("on_write_complete after on_close");
  }
  void on_close() override {
    const Enter enter(this);
    if (!saw_connect_) stats_->violation("on_close without on_connect");
    if (close_calls_++ != 0) stats_->violation("on_close ran twice");
    ++stats_->closes;
  }

 private:
  // Flags a hook that starts while another hook of the same connection runs.
  class Enter {
   public:
    explicit Enter(HookProbe* probe) : probe_(probe) {
      if (probe_->in_hook_.exchange(true)) probe_->stats_->violation("hooks ran concurrently");
    }
    ~Enter() { probe_->in_hook_.store(false); }
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;

   private:
    HookProbe* probe_;
  };

  std::shared_ptr<HookStats> stats_;
  std::atomic<bool> in_hook_{false};
  // Plain fields on purpose: the framework runs one hook at a time per connection, with
  // happens-before between runs on different threads; tsan reports it otherwise.
  bool saw_connect_ = false;
  int close_calls_ = 0;
};

TEST_P(ConnectionModel, HooksConnectFirstAndCloseExactlyOnce) {
  auto stats = std::make_shared<HookStats>();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;  // 200 connections in all
  constexpr int kLeftOpen = 10;   // closed by the server when it stops
  // Declared before the server, so they are still open when it stops: the server drains them
  // (half-closes), waits drain_timeout for them to close, then closes them itself.
  std::vector<std::unique_ptr<TestClient>> idle;
  {
    ServerOptions options = test_options(GetParam());
    options.drain_timeout = 500ms;
    RunningServer server(factory_of<HookProbe>(stats), options);

    // Four ways to end a connection, on four client threads at once.
    std::atomic<int> client_failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          TestClient client(server.address());
          if (!client.connected()) {
            ++client_failures;
            continue;
          }
          const std::string data = test::random_bytes(1 + static_cast<std::size_t>(i * 97 % 3000),
                                                      static_cast<std::uint64_t>(t * 1000 + i));
          switch ((t + i) % 4) {
            case 0:  // request, answer, close
              if (!client.send_all(data) || client.recv_exact(data.size()) != data) ++client_failures;
              client.close();
              break;
            case 1:  // reset straight away
              client.reset();
              break;
            case 2:  // close without a word
              client.close();
              break;
            case 3:  // request, half-close, answer and EOF
              if (!client.send_all(data)) ++client_failures;
              client.shutdown_write();
              if (client.recv_until_eof() != data) ++client_failures;
              break;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(client_failures.load(), 0);
    // A client that closed without a word is done before the server has accepted it (it can
    // still sit in the listen queue, or be on its way to a loop): connections() == 0 does not
    // mean every connection was seen yet, so its on_connect() is awaited first.
    EXPECT_TRUE(wait_until([&] { return stats->connects.load() >= kThreads * kPerThread; }));
    EXPECT_TRUE(wait_for_connections(server.server(), 0));
    EXPECT_EQ(stats->connects.load(), kThreads * kPerThread);
    EXPECT_TRUE(wait_until([&] { return stats->closes.load() >= kThreads * kPerThread; }));
    EXPECT_EQ(stats->closes.load(), stats->connects.load());

    // Connections still open when the server stops are closed too, once each.
    for (int i = 0; i < kLeftOpen; ++i) {
      idle.push_back(std::make_unique<TestClient>(server.address()));
      ASSERT_TRUE(idle.back()->connected());
      ASSERT_TRUE(idle.back()->send_all("x"));
      ASSERT_EQ(idle.back()->recv_exact(1), "x");
    }
    ASSERT_TRUE(wait_for_connections(server.server(), kLeftOpen));
  }  // stop + wait
  EXPECT_EQ(stats->connects.load(), kThreads * kPerThread + kLeftOpen);
  EXPECT_EQ(stats->closes.load(), stats->connects.load());
  EXPECT_GT(stats->messages.load(), 0);
  EXPECT_EQ(stats->violations.load(), 0);
  for (const std::string& text : stats->what) ADD_FAILURE() << text;
  // Every handler was freed with the server: no reference cycle, nothing left in a queue.
  EXPECT_EQ(stats->destroyed.load(), stats->constructed.load());
  EXPECT_EQ(stats->constructed.load(), kThreads * kPerThread + kLeftOpen);
}

// ---------------------------------------------------------------------------------------------
// A handler that sends the next chunk from on_write_complete() (a streaming producer).

class Streamer : public StreamConnection {
 public:
  static constexpr std::size_t kChunks = 64;
  static constexpr std::size_t kChunkSize = 16 * kKiB;
  static std::string chunk(std::size_t i) { return test::random_bytes(kChunkSize, 500 + i); }

 protected:
  void on_connect() override { send_next(); }
  void on_write_complete() override { send_next(); }
  void on_message(Buffer& input) override { input.retrieve_all(); }

 private:
  void send_next() {
    if (next_ < kChunks) {
      send(chunk(next_++));
    } else if (!shut_) {
      shut_ = true;
      shutdown();
    }
  }
  std::size_t next_ = 0;
  bool shut_ = false;
};

TEST_P(ConnectionModel, SendFromOnWriteCompleteKeepsStreaming) {
  RunningServer server(factory_of<Streamer>(), test_options(GetParam()));
  std::string expected;
  for (std::size_t i = 0; i < Streamer::kChunks; ++i) expected += Streamer::chunk(i);

  TestClient client(server.address(), 5s);
  ASSERT_TRUE(client.connected());
  // The client never writes: only on_write_complete() can keep the stream going.
  std::string back;
  const bool done = exchange(client.fd(), "", [&](std::string_view in) {
    back.append(in);
    return back.size() >= expected.size();
  }, 5s);
  EXPECT_TRUE(done) << "the stream stalled after " << back.size() << " of " << expected.size()
                    << " bytes (" << back.size() / Streamer::kChunkSize << " chunks)";
  EXPECT_TRUE(back == expected.substr(0, back.size())) << "the streamed bytes are wrong";
  if (done) {
    EXPECT_TRUE(client.wait_for_close()) << "no EOF after the last chunk";
  }
}

// ---------------------------------------------------------------------------------------------
// IPv6.

struct AddressSeen {
  std::mutex mutex;
  std::vector<std::pair<InetAddress, InetAddress>> seen;  // (local, peer) per connection
};

class AddressProbe : public EchoConnection {
 public:
  explicit AddressProbe(std::shared_ptr<AddressSeen> seen) : seen_(std::move(seen)) {}

 protected:
  void on_connect() override {
    std::lock_guard lock(seen_->mutex);
    seen_->seen.emplace_back(local_address(), peer_address());
  }

 private:
  std::shared_ptr<AddressSeen> seen_;
};

TEST(connection, Ipv6EchoOverLoopback) {
  {
    UniqueFd probe(::socket(AF_INET6, SOCK_STREAM, 0));
    if (!probe) GTEST_SKIP() << "no IPv6 support: " << std::strerror(errno);
  }
  auto seen = std::make_shared<AddressSeen>();
  std::unique_ptr<RunningServer> server;
  try {
    server = std::make_unique<RunningServer>(factory_of<AddressProbe>(seen), test_options(),
                                             InetAddress(0, /*loopback=*/true, /*ipv6=*/true));
  } catch (const std::system_error& error) {
    GTEST_SKIP() << "cannot listen on [::1]: " << error.what();
  }
  const InetAddress& address = server->address();
  EXPECT_TRUE(address.is_ipv6());
  EXPECT_EQ(address.ip(), "::1");
  EXPECT_NE(address.port(), 0);

  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(echo_round_trip(address, test::random_bytes(512 * kKiB, 60 + static_cast<std::uint64_t>(i))));
  }
  EXPECT_TRUE(wait_for_connections(server->server(), 0));
  std::lock_guard lock(seen->mutex);
  ASSERT_EQ(seen->seen.size(), 3u);
  for (const auto& [local, peer] : seen->seen) {
    EXPECT_TRUE(local.is_ipv6());
    EXPECT_EQ(local.to_string(), address.to_string());
    EXPECT_TRUE(peer.is_ipv6());
    EXPECT_EQ(peer.ip(), "::1");
  }
}

// ---------------------------------------------------------------------------------------------
// Binding a port that is in use.

TEST(connection, ListenOnPortInUseThrowsSystemError) {
  test::BackgroundServer<EchoConnection> first;
  const std::uint16_t port = first.address().port();

  Server second(test_options());
  const std::size_t fds = test::open_fd_count();
  try {
    (void)second.listen<EchoConnection>(InetAddress(port, /*loopback=*/true));
    ADD_FAILURE() << "listen on a port in use did not throw";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EADDRINUSE) << error.what();
  }
  EXPECT_EQ(test::open_fd_count(), fds) << "the socket of the failed listen leaked";

  // A port held by a plain (non-lf) listening socket, on the wildcard address.
  UniqueFd plain(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_TRUE(plain.valid());
  const InetAddress any(0);
  ASSERT_EQ(::bind(plain.get(), any.sockaddr_ptr(), any.length()), 0);
  ASSERT_EQ(::listen(plain.get(), 16), 0);
  const InetAddress taken = InetAddress::local_of(plain.get());
  EXPECT_THROW((void)second.listen<EchoConnection>(InetAddress(taken.port(), true)),
               std::system_error);
  EXPECT_THROW((void)second.listen<EchoConnection>(InetAddress(taken.port())), std::system_error);

  // The first server is unharmed.
  EXPECT_TRUE(echo_round_trip(first.address(), "still here"));
}

// ---------------------------------------------------------------------------------------------
// Graceful stop.

struct CountingStats {
  std::atomic<std::size_t> bytes_in{0};
};

// Echo that counts its input. It pins its socket's send buffer to a small size: otherwise the
// kernel's send-buffer autotuning on loopback swallows megabytes, and at stop time nothing would
// be left in the server's own output buffer to drain.
class CountingEcho : public StreamConnection {
 public:
  CountingEcho(std::shared_ptr<CountingStats> stats, std::shared_ptr<Registry<CountingEcho>> registry)
      : stats_(std::move(stats)), registry_(std::move(registry)) {}

 protected:
  void on_connect() override {
    const int size = 32 * 1024;
    ::setsockopt(handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    registry_->add(std::static_pointer_cast<CountingEcho>(shared_from_this()));
  }
  void on_message(Buffer& input) override {
    stats_->bytes_in += input.readable_bytes();
    send(input);
  }

 private:
  std::shared_ptr<CountingStats> stats_;
  std::shared_ptr<Registry<CountingEcho>> registry_;
};

TEST_P(ConnectionModel, GracefulStopDeliversPendingEchoesThenEof) {
  auto stats = std::make_shared<CountingStats>();
  auto registry = std::make_shared<Registry<CountingEcho>>();
  ServerOptions options = test_options(GetParam());
  options.drain_timeout = 5000ms;
  RunningServer server(factory_of<CountingEcho>(stats, registry), options);
  constexpr std::size_t kClients = 20;
  constexpr std::size_t kIdle = 5;
  constexpr std::size_t kRequest = 512 * kKiB;

  // 20 clients send a request and do not read yet; 5 more are connected and silent.
  std::vector<std::unique_ptr<TestClient>> clients;
  std::vector<std::string> requests;
  for (std::size_t i = 0; i < kClients + kIdle; ++i) {
    clients.push_back(std::make_unique<TestClient>(server.address()));
    ASSERT_TRUE(clients.back()->connected());
    requests.push_back(i < kClients ? test::random_bytes(kRequest, 2000 + i) : std::string());
    ASSERT_TRUE(clients.back()->send_all(requests.back()));
  }
  ASSERT_TRUE(wait_until([&] { return stats->bytes_in.load() == kClients * kRequest; }))
      << "the server read " << stats->bytes_in.load() << " bytes";
  ASSERT_TRUE(wait_for_connections(server.server(), kClients + kIdle));
  std::size_t pending = 0;
  for (const auto& connection : registry->all()) pending += connection->output_bytes();
  std::printf("[   INFO   ] %zu KiB of echo still buffered in the server at stop\n",
              pending / kKiB);
  EXPECT_GT(pending, 0u) << "nothing left to drain: the test would not test draining";

  // The clients start reading once the server is stopping.
  std::latch go(1);
  std::vector<std::optional<std::string>> replies(clients.size());
  std::vector<std::thread> readers;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    readers.emplace_back([&, i] {
      go.wait();
      replies[i] = clients[i]->recv_until_eof();
      clients[i]->close();
    });
  }
  const auto start = Clock::now();
  server.server().stop();
  go.count_down();
  server.server().wait();
  const auto elapsed = Clock::now() - start;
  for (auto& reader : readers) reader.join();
  std::printf("[   INFO   ] stop() + wait() took %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));

  for (std::size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(replies[i].has_value()) << "client " << i << ": no EOF";
    EXPECT_EQ(replies[i]->size(), requests[i].size()) << "client " << i;
    EXPECT_TRUE(*replies[i] == requests[i]) << "client " << i << ": echo differs";
  }
  EXPECT_LT(elapsed, options.drain_timeout)
      << "stop took " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
      << " ms";
  if (is_leader_followers(GetParam())) {
    for (const ThreadState state : server.server().thread_set().states()) {
      EXPECT_EQ(state, ThreadState::kStopped) << to_string(state);
    }
  }
  EXPECT_EQ(server.server().connections(), 0u);
  TestClient late(server.address(), 1s);
  EXPECT_FALSE(late.connected()) << "the stopped server still accepts connections";
}

// ---------------------------------------------------------------------------------------------
// Descriptor leaks.

TEST_P(ConnectionModel, NoFdLeakAfterConnectionsAndServer) {
  const std::size_t before = test::open_fd_count();
  {
    test::BackgroundServer<EchoConnection> server(test_options(GetParam()));
    const std::size_t with_server = test::open_fd_count();
    EXPECT_GT(with_server, before);
    for (int i = 0; i < 500; ++i) {
      TestClient client(server.address());
      ASSERT_TRUE(client.connected()) << "cycle " << i;
      switch (i % 4) {
        case 0:
          ASSERT_TRUE(client.send_all("ping"));
          ASSERT_EQ(client.recv_exact(4), "ping");
          client.close();
          break;
        case 1:
          client.reset();
          break;
        case 2:
          client.close();
          break;
        case 3:
          ASSERT_TRUE(client.send_all("bye"));
          client.shutdown_write();
          ASSERT_EQ(client.recv_until_eof(), "bye");
          break;
      }
    }
    EXPECT_TRUE(wait_for_connections(server.server(), 0));
    // A closing connection leaves the HandleSet just before it closes its socket: wait for it.
    EXPECT_TRUE(wait_until([&] { return test::open_fd_count() == with_server; }))
        << test::open_fd_count() << " descriptors open, " << with_server << " with the server";
    EXPECT_EQ(test::open_fd_count(), with_server) << "connections left descriptors open";
  }
  EXPECT_EQ(test::open_fd_count(), before) << "the server left descriptors open";
}

// ---------------------------------------------------------------------------------------------
// SIGPIPE: writing to a connection whose peer has reset.

std::atomic<int> g_sigpipes{0};
extern "C" void count_sigpipe(int) { g_sigpipes.fetch_add(1); }

// Counts SIGPIPE instead of ignoring it while in scope; restores the previous disposition.
class SigpipeCounter {
 public:
  SigpipeCounter() {
    struct sigaction counting {};
    counting.sa_handler = count_sigpipe;
    sigemptyset(&counting.sa_mask);
    installed_ = ::sigaction(SIGPIPE, &counting, &previous_) == 0;
    g_sigpipes.store(0);
  }
  ~SigpipeCounter() {
    if (installed_) ::sigaction(SIGPIPE, &previous_, nullptr);
  }
  SigpipeCounter(const SigpipeCounter&) = delete;
  SigpipeCounter& operator=(const SigpipeCounter&) = delete;
  [[nodiscard]] bool installed() const { return installed_; }

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

// Answers "big\n" with 8 MiB (and echoes anything else). Its small high-water mark makes it stop
// reading while the answer is pending, so after a reset the next thing it does with the socket
// is write to it.
class BigResponder : public StreamConnection {
 public:
  explicit BigResponder(std::shared_ptr<std::atomic<int>> closes) : closes_(std::move(closes)) {
    set_high_water_mark(64 * kKiB);
  }

 protected:
  void on_message(Buffer& input) override {
    if (input.view().starts_with("big\n")) {
      input.retrieve(4);
      send(std::string(8 * kMiB, 'b'));
    }
    send(input);
  }
  void on_close() override { ++*closes_; }

 private:
  std::shared_ptr<std::atomic<int>> closes_;
};

TEST_P(ConnectionModel, NoSigpipeWhenWritingAfterPeerReset) {
  auto closes = std::make_shared<std::atomic<int>>(0);
  RunningServer server(factory_of<BigResponder>(closes), test_options(GetParam()));
  // The Server ignores SIGPIPE; count it instead, so a write that raises it shows up here
  // rather than being silently ignored (or killing the process without the Server).
  const SigpipeCounter sigpipes;
  ASSERT_TRUE(sigpipes.installed());

  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    TestClient client(server.address());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_all("big\n"));
    if (round % 2 == 0) {
      // The answer is being written (and reading is paused) when the reset arrives.
      ASSERT_TRUE(client.recv_exact(4096).has_value());
    }
    client.reset();  // odd rounds: the server may not even have read the request yet
  }
  EXPECT_TRUE(wait_for_connections(server.server(), 0)) << "a reset connection stayed open";
  EXPECT_TRUE(wait_until([&] { return closes->load() >= kRounds; }));
  EXPECT_EQ(closes->load(), kRounds);
  // Still alive and still serving.
  EXPECT_TRUE(echo_round_trip(server.address(), "alive\n"));
  EXPECT_EQ(g_sigpipes.load(), 0) << "a write raised SIGPIPE";
}

INSTANTIATE_TEST_SUITE_P(connection, ConnectionModel, test::every_model(), test::model_param_name);

}  // namespace
}  // namespace lf
