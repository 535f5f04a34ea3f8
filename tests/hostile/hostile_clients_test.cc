// Hostile clients against a live Server on loopback: slowloris, garbage, a peer that never
// reads, resets in the middle of a response, connect-and-close floods, the connection limit.
// Every test also checks that the other clients are still served.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hostile/hostile_server.h"
#include "lf/metrics/metrics.h"

namespace lf::test {
namespace {

using Clock = std::chrono::steady_clock;

// Sends `data` one byte every `interval`; returns how long the server took to close the
// connection, or nullopt if it was still open after the last byte.
std::optional<std::chrono::milliseconds> dribble(const InetAddress& address, std::string_view data,
                                                 std::chrono::milliseconds interval) {
  TestClient client(address);
  if (!client.connected()) return std::nullopt;
  const auto start = Clock::now();
  for (char c : data) {
    if (::send(client.fd(), &c, 1, MSG_NOSIGNAL) != 1) break;
    // Wait out the interval, reading (and dropping) whatever the server answers.
    const auto until = Clock::now() + interval;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{client.fd(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char sink[4096];
      const ssize_t n = ::recv(client.fd(), sink, sizeof sink, 0);
      if (n <= 0) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
    }
  }
  return std::nullopt;
}

TEST(Hostile, SlowlorisIsClosedByTheTimeoutsWhileOthersAreServed) {
  HostileServer server;  // idle timeout 1 s, HTTP header timeout 1 s
  std::atomic<bool> done{false};
  std::atomic<int> served{0};
  std::atomic<int> failed{0};
  std::thread others([&] {
    while (!done) {
      (http_works(server.http()) && kv_works(server.kv()) && echo_works(server.echo()) ? served
                                                                                      : failed)++;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  // HTTP: a byte every 300 ms keeps the idle timer quiet; the header timeout still applies.
  const std::string head = "GET /hello HTTP/1.1\r\nHost: slow\r\nX-Padding: aaaaaaaaaaaaaaaa\r\n\r\n";
  std::optional<std::chrono::milliseconds> http_closed, kv_closed, echo_closed;
  std::thread http([&] { http_closed = dribble(server.http(), head, std::chrono::milliseconds(300)); });
  // Redis protocol and echo have no header timeout: a byte slower than the idle timeout.
  std::thread kv([&] {
    kv_closed = dribble(server.kv(), "*1\r\n$4\r\nPING\r\n", std::chrono::milliseconds(1500));
  });
  std::thread echo([&] { echo_closed = dribble(server.echo(), "abc\n", std::chrono::milliseconds(1500)); });
  http.join();
  kv.join();
  echo.join();
  done = true;
  others.join();
  ASSERT_TRUE(http_closed.has_value());
  ASSERT_TRUE(kv_closed.has_value());
  ASSERT_TRUE(echo_closed.has_value());
  std::printf("slowloris closed after: http %lld ms, kv %lld ms, echo %lld ms; %d others served\n",
              static_cast<long long>(http_closed->count()),
              static_cast<long long>(kv_closed->count()),
              static_cast<long long>(echo_closed->count()), served.load());
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(served.load(), 0);
}

TEST(Hostile, GarbageClosesConnectionsAndTheServerStaysUp) {
  HostileServer server;
  const std::size_t fds_before = open_fd_count();
  std::vector<std::thread> threads;
  std::atomic<int> http_closed{0}, frames_closed{0};
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    threads.emplace_back([&, seed] {
      const std::string junk = random_bytes(64 * 1024, seed);
      for (const InetAddress* address : {&server.echo(), &server.http(), &server.kv(), &server.frames()}) {
        TestClient client(*address, std::chrono::milliseconds(5000));
        (void)client.send_all(junk);  // the server may close before it has all of it
        if (address == &server.http() && client.wait_for_close()) ++http_closed;
        if (address == &server.frames() && client.wait_for_close()) ++frames_closed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(http_closed.load(), 8);    // 400 Bad Request, then closed
  EXPECT_EQ(frames_closed.load(), 8);  // a length over the limit or negative: closed
  EXPECT_TRUE(all_serve(server));
  EXPECT_TRUE(wait_until([&] { return server.server().connections() == 0; }, std::chrono::seconds(10)));
  EXPECT_TRUE(wait_until([&] { return open_fd_count() == fds_before; }, std::chrono::seconds(5)));
}

TEST(Hostile, PeerThatNeverReadsIsBoundedAndOthersKeepTheirThroughput) {
  HostileOptions options;
  options.idle_timeout = std::chrono::milliseconds(0);  // the stalled peer must stay
  HostileServer server(options);
  TestClient hog(server.echo());
  ASSERT_TRUE(hog.connected());
  // Write without reading until the server stops taking bytes for a whole second.
  const std::string chunk(64 * 1024, 'x');
  std::size_t written = 0;
  constexpr std::size_t kCap = 512u * 1024 * 1024;
  for (;;) {
    const ssize_t n = ::send(hog.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      if (written > kCap) break;
      continue;
    }
    pollfd p{hog.fd(), POLLOUT, 0};
    if (::poll(&p, 1, 1000) == 0) break;  // stalled
  }
  std::printf("never-reading peer: server took %zu bytes before it stopped reading\n", written);
  // The echo output stops at the high-water mark; the rest sits in the two sockets' buffers.
  EXPECT_LT(written, SmallWaterEcho::kHighWaterMark + 64u * 1024 * 1024);
  // Meanwhile another client gets every byte back.
  TestClient other(server.echo());
  const std::string data = random_bytes(1024, 7);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(other.send_all(data));
    ASSERT_EQ(other.recv_exact(data.size()), data);
  }
  EXPECT_TRUE(all_serve(server));
}

TEST(Hostile, ResetsInTheMiddleOfAResponse) {
  HostileServer server;
  const std::size_t fds_before = open_fd_count();
  const std::size_t rounds = kThreadSanitizer ? 20 : 100;
  for (std::size_t i = 0; i < rounds; ++i) {
    TestClient http(server.http());
    ASSERT_TRUE(http.send_all("GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(http.recv_exact(10 * 1024).has_value());
    http.reset();
    TestClient echo(server.echo());
    (void)echo.send_all(std::string(512 * 1024, 'e'));
    ASSERT_TRUE(echo.recv_exact(1024).has_value());
    echo.reset();
  }
  EXPECT_TRUE(wait_until([&] { return server.server().connections() == 0; }, std::chrono::seconds(10)));
  EXPECT_TRUE(wait_until([&] { return open_fd_count() == fds_before; }, std::chrono::seconds(5)));
  EXPECT_TRUE(all_serve(server));
}

TEST(Hostile, ConnectAndCloseFlood) {
  HostileServer server;
  const std::size_t fds_before = open_fd_count();
  const auto opened_before = metrics::snapshot().get(metrics::Counter::kConnectionsOpened);
  const int flood = kThreadSanitizer ? 1000 : 5000;
  for (int i = 0; i < flood; ++i) {
    TestClient client(i % 2 == 0 ? server.echo() : server.http());
    ASSERT_TRUE(client.connected());
    if (i % 4 < 2) client.reset();  // half reset, half FIN
  }
  EXPECT_TRUE(wait_until([&] { return server.server().connections() == 0; }, std::chrono::seconds(20)));
  const auto opened = metrics::snapshot().get(metrics::Counter::kConnectionsOpened) - opened_before;
  std::printf("connect-and-close flood: %d connections, %llu opened by the server\n", flood,
              static_cast<unsigned long long>(opened));
  EXPECT_TRUE(wait_until([&] { return open_fd_count() == fds_before; }, std::chrono::seconds(5)));
  EXPECT_TRUE(all_serve(server));
}

TEST(Hostile, MaxConnectionsClosesTheExtraOnesAtOnceAndCountsThem) {
  HostileOptions options;
  options.max_connections = 8;
  options.idle_timeout = std::chrono::milliseconds(0);
  HostileServer server(options);
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<TestClient>(server.echo()));
    ASSERT_TRUE(held.back()->send_all("x"));
    ASSERT_EQ(held.back()->recv_exact(1), "x");
  }
  const auto rejected_before = metrics::snapshot().get(metrics::Counter::kConnectionsRejected);
  for (int i = 0; i < 3; ++i) {
    TestClient extra(server.echo(), std::chrono::milliseconds(5000));
    EXPECT_TRUE(extra.wait_for_close());
  }
  EXPECT_GE(metrics::snapshot().get(metrics::Counter::kConnectionsRejected) - rejected_before, 3u);
  // The limit is per listener: the others still accept.
  EXPECT_TRUE(http_works(server.http()));
  // A freed slot is taken again.
  held.front()->close();
  ASSERT_TRUE(wait_until([&] { return server.server().connections() == 7; }, std::chrono::seconds(5)));
  EXPECT_TRUE(echo_works(server.echo()));
  for (auto& client : held) {
    if (client->connected()) {
      ASSERT_TRUE(client->send_all("y"));
      EXPECT_EQ(client->recv_exact(1), "y");
    }
  }
}

}  // namespace
}  // namespace lf::test
