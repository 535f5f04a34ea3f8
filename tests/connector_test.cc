// Connector: outgoing connections on the same Server as the listeners, on loopback only. A client
// handler talks to an lf echo server (IPv4 and IPv6); a refused port is retried with backoff and
// then reported once; a connect that never completes (the listener's accept queue is full) times
// out; a server that stops while connecting reports ECANCELED.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "echo/echo_connection.h"
#include "lf/connector.h"
#include "lf/server.h"
#include "lf/socket.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

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

// A listener that never accepts, with a backlog of 0 and its accept queue filled: the kernel
// drops further SYNs, so a connect to it stays in SYN_SENT.
struct FullListener {
  Socket socket = Socket::listen(InetAddress(0, /*loopback=*/true), ListenOptions{.backlog = 0});
  InetAddress address = InetAddress::local_of(socket.fd());
  std::vector<Socket> fillers;

  FullListener() {
    for (int i = 0; i < 4; ++i) {
      fillers.push_back(Socket::stream(AF_INET));
      (void)::connect(fillers.back().fd(), address.sockaddr_ptr(), address.length());
    }
  }
};

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

}  // namespace
}  // namespace lf
