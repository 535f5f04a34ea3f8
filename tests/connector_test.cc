// Connector: outgoing connections on the same Server as the listeners, on loopback only. A client
// handler talks to an lf echo server (IPv4 and IPv6); a refused port is retried with backoff and
// then reported once; a connect that never completes (the listener's accept queue is full) times
// out; a server that stops while connecting reports ECANCELED. The ConnectHandle: cancel() of a
// pending connect (in flight or waiting for a retry) releases its socket and opens no handler;
// connection() is usable once connected; cancel() leaves it open and disconnect() closes it.
// Server::connections() counts TCP connections only, not UDP services or pending connects.
#include "lf/net/connector.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/handlers/udp_echo/udp_echo_handler.h"
#include "lf/metrics/metrics.h"
#include "lf/net/connect_handle.h"
#include "lf/net/socket.h"
#include "lf/server.h"
#include "support/full_listener.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using test::FullListener;

// What a client connection reports back to the test.
struct ClientResult {
  std::promise<std::string> echoed;
  std::string expected;
};

// Sends `expected` on connect and collects the echo; closes once it has all of it.
class EchoClient : public StreamConnection {
 public:
  explicit EchoClient(std::shared_ptr<ClientResult> result) : result_(std::move(result)) {}

 protected:
  void on_connect() override { send(result_->expected); }
  void on_message(Buffer& input) override {
    received_.append(input.peek(), input.readable_bytes());
    input.retrieve_all();
    if (received_.size() >= result_->expected.size() && !done_) {
      done_ = true;
      result_->echoed.set_value(received_);
      shutdown();
    }
  }

 private:
  std::shared_ptr<ClientResult> result_;
  std::string received_;
  bool done_ = false;
};

ServerOptions test_options() {
  ServerOptions options;
  options.threads = 2;
  options.handle_signals = false;
  return options;
}

// A loopback port with nothing listening on it (bound, then released).
InetAddress refused_address(bool ipv6) {
  Socket socket = Socket::listen(InetAddress(0, /*loopback=*/true, ipv6));
  const InetAddress address = InetAddress::local_of(socket.fd());
  socket.close();
  return address;
}

// Retries every 20 ms, far more often than a test lasts; counts the failures reported.
ConnectOptions endless_retries(std::atomic<int>& failures) {
  ConnectOptions options;
  options.retries = 1000;
  options.backoff = 20ms;
  options.max_backoff = 20ms;
  options.on_failure = [&failures](const InetAddress&, int) { failures.fetch_add(1); };
  return options;
}

void talk_to_echo(bool ipv6) {
  Server server(test_options());
  const InetAddress echo = server.listen<EchoConnection>(InetAddress(0, true, ipv6));
  server.start();
  auto result = std::make_shared<ClientResult>();
  result->expected = test::random_bytes(256 * 1024, 7);
  auto echoed = result->echoed.get_future();
  server.connect<EchoClient>(echo, ConnectOptions{}, result);
  ASSERT_EQ(echoed.wait_for(60s), std::future_status::ready);
  EXPECT_EQ(test::checksum(echoed.get()), test::checksum(result->expected));
  server.stop();
  server.wait();
}

TEST(Connector, ClientTalksToEchoServerOnTheSameServer) { talk_to_echo(false); }

TEST(Connector, ClientTalksToEchoServerOverIpv6) { talk_to_echo(true); }

TEST(Connector, RefusedIsRetriedWithBackoffThenReportedOnce) {
  Server server(test_options());
  server.start();
  std::promise<int> failed;
  std::atomic<int> failures{0};
  ConnectOptions options;
  options.retries = 3;
  options.backoff = 20ms;
  options.on_failure = [&](const InetAddress&, int error) {
    if (failures.fetch_add(1) == 0) failed.set_value(error);
  };
  const auto started = std::chrono::steady_clock::now();
  server.connect<EchoClient>(refused_address(false), options, std::make_shared<ClientResult>());
  auto error = failed.get_future();
  ASSERT_EQ(error.wait_for(60s), std::future_status::ready);
  EXPECT_EQ(error.get(), ECONNREFUSED);
  // Three retries waited at least 20 + 40 + 80 ms (a lower bound: it cannot be flaky).
  EXPECT_GE(std::chrono::steady_clock::now() - started, 140ms);
  server.stop();
  server.wait();
  EXPECT_EQ(failures.load(), 1);
}

TEST(Connector, ConnectThatNeverCompletesTimesOut) {
  const FullListener listener;
  const InetAddress& address = listener.address;
  Server server(test_options());
  server.start();
  std::promise<int> failed;
  ConnectOptions options;
  options.timeout = 100ms;
  options.retries = 1;
  options.backoff = 10ms;
  options.on_failure = [&](const InetAddress&, int error) { failed.set_value(error); };
  server.connect<EchoClient>(address, options, std::make_shared<ClientResult>());
  auto error = failed.get_future();
  ASSERT_EQ(error.wait_for(60s), std::future_status::ready);
  EXPECT_EQ(error.get(), ETIMEDOUT);
  server.stop();
  server.wait();
}

TEST(Connector, StoppingTheServerCancelsAPendingConnect) {
  const FullListener listener;
  const InetAddress& address = listener.address;
  Server server(test_options());
  server.start();
  std::promise<int> failed;
  ConnectOptions options;
  options.timeout = 0ms;  // only the kernel's own (minutes): the stop must end it
  options.on_failure = [&](const InetAddress&, int error) { failed.set_value(error); };
  server.connect<EchoClient>(address, options, std::make_shared<ClientResult>());
  server.stop();
  server.wait();
  auto error = failed.get_future();
  ASSERT_EQ(error.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(error.get(), ECANCELED);
}

// Counts its constructions and openings; collects what it receives.
struct ClientProbe {
  std::atomic<int> constructed{0};
  std::atomic<int> opened{0};
  std::mutex mutex;
  std::string received;  // guarded by mutex
};

class ProbeClient : public StreamConnection {
 public:
  explicit ProbeClient(std::shared_ptr<ClientProbe> probe) : probe_(std::move(probe)) {
    probe_->constructed.fetch_add(1);
  }

 protected:
  void on_connect() override { probe_->opened.fetch_add(1); }
  void on_message(Buffer& input) override {
    std::lock_guard lock(probe_->mutex);
    probe_->received.append(input.peek(), input.readable_bytes());
    input.retrieve_all();
  }

 private:
  std::shared_ptr<ClientProbe> probe_;
};

TEST(ConnectHandle, CancelOfAConnectInFlightReleasesItsSocketAndOpensNoHandler) {
  const FullListener listener;
  Server server(test_options());
  server.start();
  const std::size_t fds_before = test::open_fd_count();
  const auto pending_before = metrics::snapshot().pending_connects();
  auto probe = std::make_shared<ClientProbe>();
  std::atomic<int> failures{0};
  ConnectOptions options;
  options.timeout = 0ms;  // only the kernel's own (minutes): nothing but cancel() ends it
  options.on_failure = [&](const InetAddress&, int) { failures.fetch_add(1); };
  ConnectHandle handle = server.connect<ProbeClient>(listener.address, options, probe);

  EXPECT_EQ(handle.status(), ConnectStatus::kPending);
  EXPECT_EQ(handle.connection(), nullptr);
  EXPECT_EQ(test::open_fd_count(), fds_before + 1) << "the attempt's socket";
  EXPECT_EQ(server.pending_connects(), 1u);
  EXPECT_EQ(server.connections(), 0u) << "a pending connect is not a connection";
  EXPECT_EQ(metrics::snapshot().pending_connects(), pending_before + 1);

  handle.cancel();
  EXPECT_EQ(handle.status(), ConnectStatus::kCancelled);
  EXPECT_EQ(handle.error(), ECANCELED);
  EXPECT_EQ(server.pending_connects(), 0u);
  EXPECT_EQ(metrics::snapshot().pending_connects(), pending_before);
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_before; }))
      << "the socket of the cancelled attempt is still open";
  handle.cancel();  // twice is harmless
  server.stop();
  server.wait();
  EXPECT_EQ(probe->constructed.load(), 0);
  EXPECT_EQ(probe->opened.load(), 0);
  EXPECT_EQ(failures.load(), 0) << "a caller's cancel() is not reported to on_failure";
}

TEST(ConnectHandle, CancelDuringTheBackoffStopsTheRetries) {
  Server server(test_options());
  server.start();
  const std::size_t fds_before = test::open_fd_count();
  std::atomic<int> failures{0};
  const ConnectOptions options = endless_retries(failures);
  auto probe = std::make_shared<ClientProbe>();
  ConnectHandle handle = server.connect<ProbeClient>(refused_address(false), options, probe);
  std::this_thread::sleep_for(100ms);  // a few refused attempts
  EXPECT_EQ(handle.status(), ConnectStatus::kPending);
  handle.cancel();
  EXPECT_EQ(handle.status(), ConnectStatus::kCancelled);
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_before; }));
  std::this_thread::sleep_for(200ms);  // ten more backoffs: no attempt may start
  EXPECT_EQ(test::open_fd_count(), fds_before);
  EXPECT_EQ(server.pending_connects(), 0u);
  server.stop();
  server.wait();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(probe->opened.load(), 0);
}

// A connect the Server does not track (a handler's own Connector::connect, as lf-proxy makes
// for its upstream) must not start an attempt while the server stops: that attempt would
// register after the drain began and hold the stop until it connected or timed out.
TEST(ConnectHandle, ARetryDueWhileTheServerStopsDoesNotStart) {
  Server server(test_options());
  server.start();
  std::atomic<int> failures{0};
  const ConnectOptions options = endless_retries(failures);
  auto probe = std::make_shared<ClientProbe>();
  ConnectHandle handle =
      Connector::connect(server.handle_set(), server.timers(), refused_address(false),
                         [probe] { return std::make_shared<ProbeClient>(probe); }, options);
  std::this_thread::sleep_for(100ms);  // a few refused attempts
  EXPECT_EQ(handle.status(), ConnectStatus::kPending);
  EXPECT_EQ(server.pending_connects(), 0u) << "the Server does not track this connect";
  server.timers().set_draining();  // what Server::stop() does before the connections drain
  ASSERT_TRUE(test::wait_until([&] { return handle.status() != ConnectStatus::kPending; }))
      << "retries went on while the server was stopping";
  EXPECT_EQ(handle.status(), ConnectStatus::kCancelled);
  server.stop();
  server.wait();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(probe->opened.load(), 0);
}

TEST(ConnectHandle, ConnectionIsUsableOnceConnectedAndDisconnectClosesIt) {
  Server server(test_options());
  const InetAddress echo = server.listen<EchoConnection>(InetAddress(0, true));
  server.start();
  auto probe = std::make_shared<ClientProbe>();
  ConnectHandle handle = server.connect<ProbeClient>(echo, ConnectOptions{}, probe);
  ASSERT_TRUE(test::wait_until([&] { return handle.status() == ConnectStatus::kConnected; }));
  const std::shared_ptr<StreamConnection> connection = handle.connection();
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(handle.error(), 0);
  EXPECT_EQ(server.pending_connects(), 0u);
  // Both ends are on this server: the client and the accepted echo connection.
  EXPECT_TRUE(test::wait_until([&] { return server.connections() == 2; }));

  connection->send("through the handle");  // from the test's thread: the inbox path
  EXPECT_TRUE(test::wait_until([&] {
    std::lock_guard lock(probe->mutex);
    return probe->received == "through the handle";
  }));

  handle.cancel();  // muduo's stop(): an established connection stays open
  EXPECT_EQ(handle.status(), ConnectStatus::kConnected);
  EXPECT_TRUE(connection->connected());

  handle.disconnect();  // FIN; the echo side closes, then the client side
  EXPECT_TRUE(test::wait_until([&] { return !connection->connected(); }));
  EXPECT_TRUE(test::wait_until([&] { return server.connections() == 0; }));
  EXPECT_EQ(probe->opened.load(), 1);
  server.stop();
  server.wait();
}

// The handler's constructor is user code and runs once the socket is connected: whatever it
// throws, std::exception or not, fails the connect (ENOMEM, reported once) and keeps no socket.
TEST(ConnectHandle, AHandlerThatThrowsOnConstructionFailsTheConnect) {
  Server server(test_options());
  const InetAddress echo = server.listen<EchoConnection>(InetAddress(0, true));
  server.start();
  const std::size_t fds_before = test::open_fd_count();
  const std::vector<std::function<void()>> throwers = {
      [] { throw std::runtime_error("no room for this client"); },
      [] { throw 42; },  // not derived from std::exception
  };
  for (const auto& thrower : throwers) {
    std::atomic<int> failures{0};
    std::atomic<int> reported{0};
    ConnectOptions options;
    options.on_failure = [&](const InetAddress&, int error) {
      reported = error;
      failures.fetch_add(1);
    };
    ConnectHandle handle = server.connect(
        echo,
        [thrower]() -> std::shared_ptr<StreamConnection> {
          thrower();
          return nullptr;
        },
        options);
    ASSERT_TRUE(test::wait_until([&] { return handle.status() == ConnectStatus::kFailed; }));
    EXPECT_EQ(handle.error(), ENOMEM);
    EXPECT_EQ(handle.connection(), nullptr);
    EXPECT_TRUE(test::wait_until([&] { return failures.load() == 1; }));
    EXPECT_EQ(reported.load(), ENOMEM);
    EXPECT_EQ(server.pending_connects(), 0u);
    // The accepted echo side sees the client's socket close, and closes too.
    EXPECT_TRUE(test::wait_until([&] { return server.connections() == 0; }));
    EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_before; }));
  }
  server.stop();
  server.wait();
}

TEST(ConnectHandle, ConnectionsCountTcpOnly) {
  const FullListener listener;
  Server server(test_options());
  const auto udp_before = metrics::snapshot().udp_handlers();
  const auto udp = server.listen_udp<UdpEchoHandler>(InetAddress(0, true));
  EXPECT_EQ(metrics::snapshot().udp_handlers(), udp_before + 1);
  server.start();
  ConnectOptions options;
  options.timeout = 0ms;
  ConnectHandle handle =
      server.connect<ProbeClient>(listener.address, options, std::make_shared<ClientProbe>());
  EXPECT_EQ(server.connections(), 0u);
  EXPECT_EQ(server.udp_handlers(), 1u);
  EXPECT_EQ(server.pending_connects(), 1u);
  const std::string text = metrics::to_prometheus(metrics::snapshot().samples());
  EXPECT_NE(text.find("# TYPE lf_udp_handlers gauge"), std::string::npos);
  EXPECT_NE(text.find("# TYPE lf_pending_connects gauge"), std::string::npos);

  server.stop();
  server.wait();
  EXPECT_EQ(handle.status(), ConnectStatus::kCancelled) << "a stop cancels pending connects";
  EXPECT_EQ(server.pending_connects(), 0u);
  EXPECT_EQ(server.udp_handlers(), 0u);
  EXPECT_EQ(metrics::snapshot().udp_handlers(), udp_before);
}

TEST(ConnectHandle, AnEmptyHandleDoesNothing) {
  ConnectHandle handle;
  EXPECT_EQ(handle.status(), ConnectStatus::kCancelled);
  EXPECT_EQ(handle.connection(), nullptr);
  handle.cancel();
  handle.disconnect();
}

}  // namespace
}  // namespace lf
