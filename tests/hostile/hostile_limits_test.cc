// Resource limits under hostile clients on loopback: oversized requests of every protocol (and
// the peak RSS they cost), 10,000 abandoned connections, and file descriptor exhaustion.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hostile/hostile_server.h"
#include "lf/metrics/metrics.h"

namespace lf::test {
namespace {

// Sends the head of an oversized request (the server may close before taking it all) and
// returns everything it answers before closing.
std::string answer_to(const InetAddress& address, const std::string& request) {
  TestClient client(address, std::chrono::milliseconds(5000));
  (void)client.send_all(request);
  client.shutdown_write();
  return client.recv_until_eof().value_or("<timeout>");
}

TEST(HostileLimits, OversizedRequestsAreRefusedWithoutLargeAllocations) {
  HostileServer server;
  const long rss_before = peak_rss_kb();
  const std::string huge_header = "GET / HTTP/1.1\r\nX-Big: " + std::string(1024 * 1024, 'a') + "\r\n\r\n";
  EXPECT_TRUE(answer_to(server.http(), huge_header).starts_with("HTTP/1.1 431"));
  EXPECT_TRUE(answer_to(server.http(),
                        "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000000\r\n\r\n")
                  .starts_with("HTTP/1.1 413"));
  EXPECT_TRUE(answer_to(server.http(),
                        "POST /hello HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "FFFFFFFFFF\r\n")
                  .starts_with("HTTP/1.1 413"));
  // Redis protocol: a bulk over proto-max-bulk-len, one over the input buffer limit, and a
  // multibulk count over the argument limit.
  EXPECT_EQ(answer_to(server.kv(), "*2\r\n$3\r\nGET\r\n$1000000000\r\n"),
            "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_EQ(answer_to(server.kv(), "*2\r\n$3\r\nGET\r\n$100000000\r\n"),
            "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_EQ(answer_to(server.kv(), "*100000000\r\n"),
            "-ERR Protocol error: invalid multibulk length\r\n");
  // Frames: over the maximum frame size, and a negative length: closed without an answer.
  EXPECT_EQ(answer_to(server.frames(), std::string("\x7f\xff\xff\xff", 4) + "abc"), "");
  EXPECT_EQ(answer_to(server.frames(), std::string("\x80\x00\x00\x01", 4)), "");
  EXPECT_TRUE(all_serve(server));
  const long growth = peak_rss_kb() - rss_before;
  std::printf("oversized requests: peak RSS %ld KiB before, growth %ld KiB\n", rss_before, growth);
  // The 1 MiB header the test itself built is the largest thing in play.
  EXPECT_LT(growth, 32 * 1024);
}

// The abandoning clients run in a child process, forked before the server starts (so the child
// has one thread): the server's process holds only the server ends, and its fd count is the
// server's. The child reports how many connections it opened and saw closed.
struct AbandonResult {
  std::size_t opened = 0;
  std::size_t closed = 0;
};

AbandonResult abandon_in_child(int port_pipe, std::size_t count) {
  std::uint16_t ports[2] = {0, 0};
  if (::read(port_pipe, ports, sizeof ports) != sizeof ports) return {};
  std::vector<std::unique_ptr<TestClient>> clients;
  clients.reserve(count);
  AbandonResult result;
  for (std::size_t i = 0; i < count; ++i) {
    // Half send nothing (echo), half send half a request (HTTP).
    auto client = std::make_unique<TestClient>(InetAddress(ports[i % 2], /*loopback=*/true),
                                               std::chrono::milliseconds(60000));
    if (!client->connected()) break;
    if (i % 2 == 1 && !client->send_all("GET /hello HT")) break;
    clients.push_back(std::move(client));
    ++result.opened;
  }
  for (auto& client : clients) {
    if (client->wait_for_close()) ++result.closed;
  }
  return result;
}

TEST(HostileLimits, TenThousandAbandonedConnectionsAreClosedByTimeouts) {
  const std::size_t count = kThreadSanitizer ? 2000 : 10000;
  raise_fd_limit(count + 1000);
  int ports[2];
  int results[2];
  ASSERT_EQ(::pipe(ports), 0);
  ASSERT_EQ(::pipe(results), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    raise_fd_limit(count + 1000);
    const AbandonResult result = abandon_in_child(ports[0], count);
    const bool ok = ::write(results[1], &result, sizeof result) == sizeof result;
    ::_exit(ok ? 0 : 1);
  }
  HostileOptions options;
  options.idle_timeout = std::chrono::milliseconds(3000);
  options.header_timeout = std::chrono::milliseconds(3000);
  {
    HostileServer server(options);
    const std::size_t fds_before = open_fd_count();
    const std::uint16_t listen_ports[2] = {server.echo().port(), server.http().port()};
    ASSERT_EQ(::write(ports[1], listen_ports, sizeof listen_ports),
              static_cast<ssize_t>(sizeof listen_ports));
    std::size_t peak = 0;
    std::size_t peak_fds = 0;
    AbandonResult result;
    pollfd done{results[0], POLLIN, 0};
    // Until the child is done: all of its connections were closed by the server.
    ASSERT_TRUE(wait_until(
        [&] {
          peak = std::max(peak, server.server().connections());
          peak_fds = std::max(peak_fds, open_fd_count());
          return ::poll(&done, 1, 0) == 1;
        },
        std::chrono::seconds(120)));
    ASSERT_EQ(::read(results[0], &result, sizeof result), static_cast<ssize_t>(sizeof result));
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(result.opened, count);
    EXPECT_EQ(result.closed, result.opened);
    EXPECT_TRUE(wait_until([&] { return server.server().connections() == 0; }, std::chrono::seconds(10)));
    EXPECT_TRUE(wait_until([&] { return open_fd_count() == fds_before; }, std::chrono::seconds(5)));
    std::printf("abandoned: %zu connections opened, %zu closed by the server's timeouts; at most "
                "%zu held at once; server fds %zu before, %zu at most, %zu after\n",
                result.opened, result.closed, peak, fds_before, peak_fds, open_fd_count());
    EXPECT_TRUE(all_serve(server));
  }
  for (int fd : {ports[0], ports[1], results[0], results[1]}) ::close(fd);
}

// A socket created now and connected later, so connecting needs no new descriptor.
class PreparedClient {
 public:
  PreparedClient() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {}
  bool connect(const InetAddress& address) {
    const int rc = ::connect(fd_.get(), address.sockaddr_ptr(), address.length());
    if (rc != 0 && errno != EINPROGRESS) return false;
    pollfd p{fd_.get(), POLLOUT, 0};
    return ::poll(&p, 1, 5000) == 1;
  }
  // True if the server closes within 5 s.
  bool closed() {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char c;
    return ::recv(fd_.get(), &c, 1, 0) <= 0;
  }
  bool echoes() {
    if (::send(fd_.get(), "z", 1, MSG_NOSIGNAL) != 1) return false;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char c = 0;
    return ::recv(fd_.get(), &c, 1, 0) == 1 && c == 'z';
  }

 private:
  UniqueFd fd_;
};

TEST(HostileLimits, FdExhaustionRejectsWithoutBusyLoopAndRecovers) {
  HostileOptions options;
  options.threads = 2;
  HostileServer server(options);
  std::vector<PreparedClient> during(20);
  PreparedClient after;
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  rlimit small = saved;
  small.rlim_cur = open_fd_count() + 32;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &small), 0);
  std::vector<UniqueFd> fillers;
  for (;;) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) break;
    fillers.push_back(std::move(fd));
  }
  const auto rejected_before = metrics::snapshot().get(metrics::Counter::kConnectionsRejected);
  const double cpu_before = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  int closed = 0;
  for (auto& client : during) {
    ASSERT_TRUE(client.connect(server.echo()));
    if (client.closed()) ++closed;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_before;
  const auto rejected = metrics::snapshot().get(metrics::Counter::kConnectionsRejected) - rejected_before;
  fillers.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  std::printf("fd exhaustion: %d of %zu connections closed at once, %llu counted rejected; CPU "
              "%.3f s in %.2f s wall\n",
              closed, during.size(), static_cast<unsigned long long>(rejected), cpu, wall);
  EXPECT_EQ(closed, static_cast<int>(during.size()));
  EXPECT_GE(rejected, during.size());
  EXPECT_LT(cpu, 0.5 * wall);  // a busy loop would use a whole core or more
  ASSERT_TRUE(after.connect(server.echo()));
  EXPECT_TRUE(after.echoes());
  EXPECT_TRUE(all_serve(server));
}

}  // namespace
}  // namespace lf::test
