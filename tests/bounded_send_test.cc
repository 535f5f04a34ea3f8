// StreamConnection's send results and try_send() over real loopback sockets: send() says whether
// the data was queued; try_send() refuses what would take the pending output past its bound,
// atomically with the other senders, so threads fanning out to a peer that does not read never
// make the server hold more than the bound, and every message they got queued arrives whole and
// in order once the peer reads.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/net/buffer.h"
#include "lf/net/stream_connection.h"
#include "support/peak.h"
#include "support/running_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using test::TestClient;

constexpr std::size_t kKiB = 1024;

class ProbedConnection;

// What the tests learn from the server's side of their one connection.
struct Probe {
  std::mutex mutex;
  std::condition_variable changed;
  std::weak_ptr<ProbedConnection> connection;       // guarded by mutex
  std::atomic<bool> owner_send_queued{false};       // send() from on_message
  std::atomic<bool> closed{false};                  // on_close() ran
  std::atomic<bool> send_after_close_queued{true};  // send() from on_close
  // The largest output_bytes() the connection's own thread saw (a periodic timer samples it).
  // From that thread it is exact: no move from the inbox is half done.
  std::atomic<std::size_t> peak_output{0};

  std::shared_ptr<ProbedConnection> get() {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, 10s, [&] { return !connection.expired(); });
    return connection.lock();
  }
};

// Answers "ping\n" with "pong\n" from its own thread; otherwise quiet. Tells the Probe what it
// sees.
class ProbedConnection : public StreamConnection {
 public:
  explicit ProbedConnection(std::shared_ptr<Probe> probe) : probe_(std::move(probe)) {}

 protected:
  void on_connect() override {
    // Samples the pending output every timer tick, on this connection's own thread.
    start_periodic(1ms, [this] { test::raise_peak(probe_->peak_output, output_bytes()); });
    {
      std::lock_guard lock(probe_->mutex);
      probe_->connection = std::static_pointer_cast<ProbedConnection>(shared_from_this());
    }
    probe_->changed.notify_all();
  }
  void on_message(Buffer& input) override {
    if (input.view().find("ping\n") == std::string_view::npos) return;
    input.retrieve_all();
    probe_->owner_send_queued = send("pong\n");
  }
  void on_close() override {
    probe_->send_after_close_queued = send("too late\n");
    probe_->closed = true;
  }

 private:
  std::shared_ptr<Probe> probe_;
};

struct ProbedServer {
  std::shared_ptr<Probe> probe = std::make_shared<Probe>();
  test::RunningServer server{test::factory_of<ProbedConnection>(probe),
                             test::BackgroundServer<ProbedConnection>::default_options()};
};

TEST(BoundedSend, SendSaysQueuedWhileOpenAndDroppedOnceClosed) {
  ProbedServer s;
  TestClient client(s.server.address());
  ASSERT_TRUE(client.connected());
  auto connection = s.probe->get();
  ASSERT_NE(connection, nullptr);

  // From another thread (this one), both overloads.
  EXPECT_TRUE(connection->send("one\n"));
  Buffer buffer;
  buffer.append("two\n");
  EXPECT_TRUE(connection->send(buffer));
  EXPECT_EQ(buffer.readable_bytes(), 0u);
  EXPECT_EQ(client.recv_exact(8), "one\ntwo\n");
  // From the connection's own thread.
  ASSERT_TRUE(client.send_all("ping\n"));
  EXPECT_EQ(client.recv_exact(5), "pong\n");
  EXPECT_TRUE(s.probe->owner_send_queued.load());

  connection->force_close();
  ASSERT_TRUE(test::wait_until([&] { return s.probe->closed.load(); }));
  EXPECT_FALSE(s.probe->send_after_close_queued.load()) << "send() from on_close()";
  EXPECT_FALSE(connection->send("late\n"));
  buffer.append("late\n");
  EXPECT_FALSE(connection->send(buffer));
  EXPECT_EQ(buffer.readable_bytes(), 0u) << "send(Buffer&) empties the buffer even when dropping";
  EXPECT_FALSE(connection->try_send("late\n", 1024 * kKiB));
  EXPECT_FALSE(connection->send_file(UniqueFd(::open("/dev/zero", O_RDONLY | O_CLOEXEC)), 0, 1));
  EXPECT_TRUE(client.wait_for_close());
}

// 1 KiB, numbered: which chunk arrived, and that it is whole.
std::string make_chunk(std::size_t index) {
  std::string chunk(kKiB, static_cast<char>('a' + index % 26));
  const std::string number = std::to_string(index);
  chunk.replace(0, number.size(), number);
  return chunk;
}

TEST(BoundedSend, TrySendRefusesAboveTheBoundAndAcceptsAgainOnceThePeerReads) {
  constexpr std::size_t kBound = 16 * kKiB;
  ProbedServer s;
  TestClient client(s.server.address());
  ASSERT_TRUE(client.connected());
  auto connection = s.probe->get();
  ASSERT_NE(connection, nullptr);

  // Nothing is pending yet: exactly the bound fits, one byte more does not.
  EXPECT_FALSE(connection->try_send(std::string(kBound + 1, 'x'), kBound));
  EXPECT_TRUE(connection->try_send(std::string(kBound, 'y'), kBound));
  EXPECT_EQ(client.recv_exact(kBound), std::string(kBound, 'y')) << "the refused data was sent";

  // The client stops reading. Send chunks until refusals persist: the kernel's buffers are full
  // and the server holds what it accepted since.
  std::string accepted;
  std::size_t index = 0;
  int refusals_in_a_row = 0;
  while (refusals_in_a_row < 100 && accepted.size() < 256 * kKiB * kKiB) {
    const std::string chunk = make_chunk(index);
    if (connection->try_send(chunk, kBound)) {
      accepted += chunk;
      ++index;
      refusals_in_a_row = 0;
    } else {
      ++refusals_in_a_row;
      std::this_thread::sleep_for(1ms);  // a chance for the server to move and write
    }
  }
  ASSERT_EQ(refusals_in_a_row, 100) << "the peer took " << accepted.size() << " bytes unread";
  // Nothing moves now (no sender, no reader), so output_bytes() is exact.
  EXPECT_LE(connection->output_bytes(), kBound);
  EXPECT_GT(connection->output_bytes(), 0u);

  // The client reads: every accepted chunk, in order, nothing refused.
  const auto received = client.recv_exact(accepted.size());
  ASSERT_TRUE(received.has_value());
  EXPECT_TRUE(*received == accepted) << "chunks lost, reordered or duplicated";
  // Once the server has written it all, there is room again.
  EXPECT_TRUE(test::wait_until([&] { return connection->try_send("again\n", kBound); }));
  EXPECT_EQ(client.recv_exact(6), "again\n");
  EXPECT_LE(s.probe->peak_output.load(), kBound);
}

// Line `seq` of sender `sender`: "S<sender> <seq> " and a payload whose length (0..300) and
// letters depend on both.
std::string make_message(std::size_t sender, std::size_t seq) {
  std::string line = "S" + std::to_string(sender) + " " + std::to_string(seq) + " ";
  const std::size_t length = (seq * 7919 + sender * 104729) % 301;
  for (std::size_t j = 0; j < length; ++j) {
    line.push_back(static_cast<char>('a' + (seq * 31 + j * 7 + sender) % 26));
  }
  line.push_back('\n');
  return line;
}

// Up to n bytes from the non-blocking fd: fewer if nothing arrives for 10 s.
std::string receive(int fd, std::size_t n) {
  std::string data;
  std::vector<char> chunk(64 * kKiB);
  while (data.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) break;
    const ssize_t r = ::recv(fd, chunk.data(), std::min(chunk.size(), n - data.size()), 0);
    if (r <= 0) break;
    data.append(chunk.data(), static_cast<std::size_t>(r));
  }
  return data;
}

TEST(BoundedSend, ThreadsFanningOutToAPeerThatDoesNotReadStayWithinTheBound) {
  constexpr std::size_t kBound = 64 * kKiB;
  constexpr std::size_t kSenders = 4;
  ProbedServer s;
  TestClient client(s.server.address());
  ASSERT_TRUE(client.connected());
  auto connection = s.probe->get();
  ASSERT_NE(connection, nullptr);

  // Each sender goes on until its refusals persist (the peer is not reading) or a cap.
  std::vector<std::vector<std::size_t>> accepted(kSenders);
  std::vector<std::size_t> refused(kSenders, 0);
  std::atomic<bool> go{false};
  std::vector<std::thread> senders;
  for (std::size_t t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      int refusals_in_a_row = 0;
      for (std::size_t seq = 0; refusals_in_a_row < 50 && seq < 200'000; ++seq) {
        if (connection->try_send(make_message(t, seq), kBound)) {
          accepted[t].push_back(seq);
          refusals_in_a_row = 0;
        } else {
          ++refused[t];
          ++refusals_in_a_row;
          std::this_thread::sleep_for(1ms);
        }
      }
    });
  }
  go.store(true);
  for (auto& sender : senders) sender.join();

  std::size_t total = 0;
  std::size_t total_refused = 0;
  for (std::size_t t = 0; t < kSenders; ++t) {
    for (const std::size_t seq : accepted[t]) total += make_message(t, seq).size();
    total_refused += refused[t];
  }
  EXPECT_GT(total_refused, 0u) << "the bound was never reached";
  EXPECT_LE(s.probe->peak_output.load(), kBound);

  // The peer reads: every accepted message, whole, in each sender's order; nothing else.
  const std::string received_all = receive(client.fd(), total);
  ASSERT_EQ(received_all.size(), total);
  const std::string* received = &received_all;
  std::vector<std::size_t> next(kSenders, 0);
  std::size_t start = 0;
  std::size_t errors = 0;
  for (std::size_t end; (end = received->find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string_view line = std::string_view(*received).substr(start, end - start + 1);
    std::size_t sender = kSenders;
    std::sscanf(std::string(line.substr(0, 16)).c_str(), "S%zu", &sender);
    const bool expected = sender < kSenders && next[sender] < accepted[sender].size() &&
                          line == make_message(sender, accepted[sender][next[sender]]);
    if (!expected) {
      if (++errors <= 5) ADD_FAILURE() << "unexpected line: " << line.substr(0, 40);
      continue;
    }
    ++next[sender];
  }
  EXPECT_EQ(start, received->size()) << "a partial line at the end";
  for (std::size_t t = 0; t < kSenders; ++t) {
    EXPECT_EQ(next[t], accepted[t].size()) << "sender " << t;
  }
  std::printf("[   INFO   ] accepted %zu bytes, %zu refusals, peak output %zu KiB of %zu\n", total,
              total_refused, s.probe->peak_output.load() / kKiB, kBound / kKiB);
}

}  // namespace
}  // namespace lf
