// DatagramHandler and UdpEchoHandler on loopback: several clients (each on its own thread) send
// many datagrams of varied sizes and every echo must come back intact and to its own sender;
// IPv6; send_to() from a thread that is not processing the handler.
#include <poll.h>
#include <sys/socket.h>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/metrics/metrics.h"
#include "lf/server.h"
#include "support/test_client.h"
#include "lf/handlers/udp_echo/udp_echo_handler.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

ServerOptions test_options() {
  ServerOptions options;
  options.threads = 4;
  options.handle_signals = false;
  return options;
}

// A blocking-with-timeout UDP client socket.
class UdpClient {
 public:
  explicit UdpClient(sa_family_t family)
      : fd_(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    const InetAddress loopback(0, /*loopback=*/true, family == AF_INET6);
    (void)::bind(fd_.get(), loopback.sockaddr_ptr(), loopback.length());
  }
  [[nodiscard]] InetAddress local() const { return InetAddress::local_of(fd_.get()); }
  bool send_to(std::string_view data, const InetAddress& to) {
    return ::sendto(fd_.get(), data.data(), data.size(), 0, to.sockaddr_ptr(), to.length()) ==
           static_cast<ssize_t>(data.size());
  }
  // The next datagram, or nullopt after 10 s of silence (a lost datagram fails the test).
  std::optional<std::string> receive() {
    pollfd ready{fd_.get(), POLLIN, 0};
    if (::poll(&ready, 1, 10000) != 1) return std::nullopt;
    std::string data(65536, '\0');
    const ssize_t n = ::recv(fd_.get(), data.data(), data.size(), 0);
    if (n < 0) return std::nullopt;
    data.resize(static_cast<std::size_t>(n));
    return data;
  }

 private:
  UniqueFd fd_;
};

// Datagram `seq` of client `client`: an 8-byte header then bytes fixed by (client, seq).
std::string datagram(std::uint32_t client, std::uint32_t seq) {
  const std::size_t size = 8 + (seq * 7919u + client * 104729u) % 1400;
  std::string data = test::random_bytes(size - 8, (std::uint64_t{client} << 32) | seq);
  char header[8];
  std::memcpy(header, &client, 4);
  std::memcpy(header + 4, &seq, 4);
  return std::string(header, 8) + data;
}

// Sends `count` datagrams in windows (so loopback buffers never overflow) and checks each echo.
// Returns the number of echoes that matched what was sent.
std::size_t run_client(const InetAddress& server, std::uint32_t client, std::uint32_t count) {
  UdpClient socket(server.family());
  constexpr std::uint32_t kWindow = 16;
  std::size_t matched = 0;
  for (std::uint32_t first = 0; first < count; first += kWindow) {
    const std::uint32_t last = std::min(count, first + kWindow);
    std::map<std::uint32_t, std::string> outstanding;
    for (std::uint32_t seq = first; seq < last; ++seq) {
      outstanding[seq] = datagram(client, seq);
      if (!socket.send_to(outstanding[seq], server)) return matched;
    }
    while (!outstanding.empty()) {
      const auto echo = socket.receive();
      if (!echo || echo->size() < 8) return matched;
      std::uint32_t from_client = 0;
      std::uint32_t seq = 0;
      std::memcpy(&from_client, echo->data(), 4);
      std::memcpy(&seq, echo->data() + 4, 4);
      const auto it = outstanding.find(seq);
      if (from_client != client || it == outstanding.end() || it->second != *echo) return matched;
      outstanding.erase(it);
      ++matched;
    }
  }
  return matched;
}

TEST(Datagram, EchoesManyDatagramsFromSeveralClientsIntact) {
  Server server(test_options());
  const auto echo = server.listen_udp<UdpEchoHandler>(InetAddress(0, /*loopback=*/true));
  server.start();
  constexpr std::uint32_t kClients = 4;
  constexpr std::uint32_t kDatagrams = 1000;
  std::vector<std::size_t> matched(kClients);
  std::vector<std::thread> clients;
  for (std::uint32_t c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] { matched[c] = run_client(echo->local_address(), c, kDatagrams); });
  }
  for (auto& thread : clients) thread.join();
  for (std::uint32_t c = 0; c < kClients; ++c) EXPECT_EQ(matched[c], kDatagrams) << "client " << c;
  // A client can hold its last echo before the server thread has counted it (the counter follows
  // sendmmsg), so read the counters once the server's threads have finished.
  server.stop();
  server.wait();
  EXPECT_EQ(echo->received(), std::uint64_t{kClients} * kDatagrams);
  EXPECT_EQ(echo->sent(), std::uint64_t{kClients} * kDatagrams);
  EXPECT_EQ(echo->dropped(), 0u);
}

TEST(Datagram, EchoesOverIpv6) {
  Server server(test_options());
  const auto echo =
      server.listen_udp<UdpEchoHandler>(InetAddress(0, /*loopback=*/true, /*ipv6=*/true));
  server.start();
  ASSERT_TRUE(echo->local_address().is_ipv6());
  EXPECT_EQ(run_client(echo->local_address(), 1, 500), 500u);
  server.stop();
  server.wait();
}

TEST(Datagram, SendToFromOtherThreadsReachesThePeer) {
  Server server(test_options());
  const auto echo = server.listen_udp<UdpEchoHandler>(InetAddress(0, /*loopback=*/true));
  server.start();
  UdpClient client(AF_INET);
  constexpr int kPerThread = 50;  // few enough that loopback buffers cannot overflow
  std::vector<std::thread> senders;
  for (int t = 0; t < 2; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(echo->send_to(fmt::format("pushed {} {}", t, i), client.local()));
      }
    });
  }
  for (auto& thread : senders) thread.join();
  std::map<std::string, int> seen;
  for (int i = 0; i < 2 * kPerThread; ++i) {
    const auto datagram = client.receive();
    ASSERT_TRUE(datagram.has_value()) << "after " << i << " datagrams";
    ++seen[*datagram];
  }
  EXPECT_EQ(seen.size(), 2u * kPerThread);
  server.stop();
  server.wait();
}

// Echoes datagrams; throws on "throw". UDP has no connection to close: the datagram is dropped
// and the service goes on.
class ThrowingUdpEcho : public DatagramHandler {
 public:
  using DatagramHandler::DatagramHandler;

 protected:
  void on_datagram(std::string_view data, const InetAddress& from) override {
    if (data == "throw") throw std::runtime_error("bad datagram");
    send_to(data, from);
  }
};

TEST(Datagram, AnExceptionInOnDatagramDropsThatDatagramOnly) {
  Server server(test_options());
  const auto echo = server.listen_udp<ThrowingUdpEcho>(InetAddress(0, /*loopback=*/true));
  server.start();
  const std::uint64_t before = metrics::snapshot().get(metrics::Counter::kHandlerExceptions);
  UdpClient client(AF_INET);
  ASSERT_TRUE(client.send_to("throw", echo->local_address()));
  ASSERT_TRUE(client.send_to("after", echo->local_address()));
  EXPECT_EQ(client.receive(), "after");
  server.stop();
  server.wait();
  EXPECT_EQ(metrics::snapshot().get(metrics::Counter::kHandlerExceptions), before + 1);
}

}  // namespace
}  // namespace lf
