// ProxyConnection (handlers/proxy/) in front of an lf echo server on the same Server, on loopback:
// 1 MiB of random data goes through the proxy and back (both directions) and must come back
// intact, followed by EOF (the client's half-close passed through the proxy and back); a client
// that stops reading must not make the proxy buffer more than about its high-water mark; a
// client that leaves while the upstream connect is pending cancels it.
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/handlers/proxy/proxy_connection.h"
#include "lf/metrics/metrics.h"
#include "lf/server.h"
#include "support/full_listener.h"
#include "support/test_client.h"

namespace lf {
namespace {

constexpr std::size_t kHighWaterMark = 256 * 1024;

// An echo server that buffers little itself, so that a slow reader backs up into the proxy.
class SmallEcho : public EchoConnection {
 public:
  SmallEcho() { set_high_water_mark(kHighWaterMark); }
};

// Server with an echo listener and a proxy listener in front of it; remembers the proxy's
// accepted connections so a test can look at their buffers.
class ProxyFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.threads = 4;
    options.handle_signals = false;
    server_ = std::make_unique<Server>(options);
    ProxyOptions proxy;
    proxy.upstream = server_->listen<SmallEcho>(InetAddress(0, /*loopback=*/true));
    proxy.high_water_mark = kHighWaterMark;
    proxy_address_ = server_->listen(InetAddress(0, /*loopback=*/true), [this, proxy] {
      auto connection = std::make_shared<ProxyConnection>(proxy);
      std::lock_guard lock(mutex_);
      accepted_.push_back(connection);
      return connection;
    });
    server_->start();
  }
  void TearDown() override {
    server_->stop();
    server_->wait();
  }
  [[nodiscard]] std::shared_ptr<ProxyConnection> accepted() {
    std::lock_guard lock(mutex_);
    return accepted_.empty() ? nullptr : accepted_.front();
  }

  std::unique_ptr<Server> server_;
  InetAddress proxy_address_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<ProxyConnection>> accepted_;
};

// Writes `data` and reads the echo at the same time (poll), so nothing deadlocks on full
// buffers. Reading starts only once `read_after` bytes were sent, or writing is blocked: a slow
// reader. `on_stall` runs each time writing has been blocked for a while with reading off.
std::string exchange(int fd, const std::string& data, std::size_t read_after,
                     const std::function<void()>& on_stall) {
  std::string received;
  std::size_t sent = 0;
  bool reading = read_after == 0;
  bool write_shut = false;
  char chunk[65536];
  for (;;) {
    if (sent == data.size() && !write_shut) {
      ::shutdown(fd, SHUT_WR);
      write_shut = true;
    }
    pollfd ready{fd, static_cast<short>((reading ? POLLIN : 0) | (write_shut ? 0 : POLLOUT)), 0};
    const int n = ::poll(&ready, 1, reading ? 30000 : 500);
    if (n == 0) {
      if (reading) return received;  // silent for 30 s: the test fails on the size
      on_stall();                    // the pipeline is full: look at the buffers, then read
      reading = true;
      continue;
    }
    if ((ready.revents & POLLOUT) != 0) {
      const ssize_t w = ::send(fd, data.data() + sent, std::min<std::size_t>(65536, data.size() - sent),
                               MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<std::size_t>(w);
      if (sent >= read_after) reading = true;
    }
    if ((ready.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && reading) {
      const ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
      if (r == 0) return received;  // EOF: the half-close came back
      if (r < 0 && errno != EAGAIN && errno != EINTR) return received;
      if (r > 0) received.append(chunk, static_cast<std::size_t>(r));
    }
  }
}

TEST_F(ProxyFixture, OneMebibyteBothWaysIntactThenHalfCloseComesBack) {
  test::TestClient client(proxy_address_);
  ASSERT_TRUE(client.connected());
  const std::string data = test::random_bytes(1024 * 1024, 42);
  const std::string echoed = exchange(client.fd(), data, 0, [] {});
  ASSERT_EQ(echoed.size(), data.size());
  EXPECT_EQ(test::checksum(echoed), test::checksum(data));
}

TEST_F(ProxyFixture, SlowReaderBoundsTheProxysBuffers) {
  test::TestClient client(proxy_address_);
  ASSERT_TRUE(client.connected());
  // A small receive buffer the kernel may not grow (setting it turns autotuning off), and more
  // data than the sockets on the path hold even when autotuned (tcp_rmem's maximum is 32 MiB
  // on some machines): the writer must stall, so the proxy is the one holding back.
  const int small = 64 * 1024;
  ASSERT_EQ(::setsockopt(client.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  const std::string data = test::random_bytes(64 * 1024 * 1024, 43);
  std::size_t downstream_output = 0;
  std::size_t upstream_output = 0;
  bool stalled = false;
  const std::string echoed = exchange(client.fd(), data, data.size(), [&] {
    stalled = true;
    const auto downstream = accepted();
    if (!downstream) return;
    downstream_output = downstream->output_bytes();
    if (const auto upstream = downstream->partner()) upstream_output = upstream->output_bytes();
  });
  ASSERT_EQ(echoed.size(), data.size());
  EXPECT_EQ(test::checksum(echoed), test::checksum(data));
  // 64 MiB are more than the socket buffers of the path hold, so the writer stalled; the proxy
  // then held at most the high-water mark plus one read per side.
  EXPECT_TRUE(stalled);
  EXPECT_LE(downstream_output, kHighWaterMark + 512 * 1024);
  EXPECT_LE(upstream_output, kHighWaterMark + 512 * 1024);
  std::printf("stalled with %zu bytes queued for the client, %zu for the echo server\n",
              downstream_output, upstream_output);
}

TEST(ProxyTest, AClientThatLeavesCancelsThePendingUpstreamConnect) {
  const test::FullListener upstream;  // never accepts: the upstream connect stays pending
  ServerOptions options;
  options.threads = 2;
  options.handle_signals = false;
  Server server(options);
  ProxyOptions proxy;
  proxy.upstream = upstream.address;
  proxy.connect_timeout = std::chrono::minutes(1);
  const InetAddress address =
      server.listen<ProxyConnection>(InetAddress(0, true), ListenOptions{}, proxy);
  server.start();
  const std::size_t fds_before = test::open_fd_count();
  const auto pending_before = metrics::snapshot().pending_connects();
  {
    test::TestClient client(address);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(test::wait_until(
        [&] { return metrics::snapshot().pending_connects() == pending_before + 1; }));
    EXPECT_EQ(server.connections(), 1u) << "the accepted side only; the upstream is pending";
    // A reset, not a FIN: a client that half-closes may still want its answer.
    client.reset();
  }
  EXPECT_TRUE(test::wait_until([&] { return server.connections() == 0; }));
  EXPECT_TRUE(test::wait_until(
      [&] { return metrics::snapshot().pending_connects() == pending_before; }))
      << "the upstream connect outlived its client";
  // The client's socket, the accepted one and the upstream attempt's: all released.
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_before; }));
  server.stop();
  server.wait();
}

}  // namespace
}  // namespace lf
