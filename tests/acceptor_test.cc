// Acceptor and Server listening: several listeners on one Server, SO_REUSEPORT, and running out
// of file descriptors (the spare-descriptor trick keeps the server alive and epoll quiet).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cctype>
#include <chrono>
#include <system_error>
#include <thread>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

class UpperConnection : public StreamConnection {
  void on_message(Buffer& input) override {
    std::string text = input.retrieve_all_as_string();
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    send(text);
  }
};

ServerOptions quiet_options(std::size_t threads = 2) {
  ServerOptions options;
  options.threads = threads;
  options.handle_signals = false;
  return options;
}

TEST(AcceptorTest, SeveralListenersShareOneServer) {
  Server server(quiet_options(3));
  const InetAddress echo = server.listen<EchoConnection>(InetAddress(0, true));
  const InetAddress upper = server.listen<UpperConnection>(InetAddress(0, true));
  ASSERT_NE(echo.port(), upper.port());
  server.start();

  test::TestClient a(echo);
  test::TestClient b(upper);
  ASSERT_TRUE(a.connected() && b.connected());
  ASSERT_TRUE(a.send_all("mixed Case"));
  ASSERT_TRUE(b.send_all("mixed Case"));
  EXPECT_EQ(a.recv_exact(10), "mixed Case");
  EXPECT_EQ(b.recv_exact(10), "MIXED CASE");
  EXPECT_EQ(server.thread_set().base_threads(), 3u);
  EXPECT_GE(server.thread_set().size(), 3u);  // more only if every thread was busy a while
  EXPECT_LE(server.thread_set().size(), server.thread_set().max_threads());
  a.close();  // a graceful stop waits (up to drain_timeout) for peers to close
  b.close();
  server.stop();
  server.wait();
}

TEST(AcceptorTest, ReusePortIsAnOption) {
  Server first(quiet_options(1));
  ListenOptions shared;
  shared.reuse_port = true;
  const InetAddress bound = first.listen<EchoConnection>(InetAddress(0, true), shared);

  Server second(quiet_options(1));
  EXPECT_NO_THROW(second.listen<EchoConnection>(bound, shared));
  Server third(quiet_options(1));
  EXPECT_THROW(third.listen<EchoConnection>(bound), std::system_error);
}

// Fills the descriptor table up to the soft limit, then connects: the server cannot accept,
// so it must close the pending connections (spare descriptor) instead of spinning on them, and
// accept again once descriptors are free.
TEST(AcceptorTest, OutOfDescriptorsRejectsWithoutSpinningAndRecovers) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);

  Server server(quiet_options(2));
  const InetAddress address = server.listen<EchoConnection>(InetAddress(0, true));
  server.start();

  // Client sockets are created before the table is full; connect() needs no new descriptor.
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i) clients.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

  rlimit low = saved;
  low.rlim_cur = test::open_fd_count() + 16;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<UniqueFd> fillers;
  for (;;) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) break;
    fillers.push_back(std::move(fd));
  }
  ASSERT_EQ(errno, EMFILE);

  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  for (auto& client : clients) {
    ASSERT_EQ(::connect(client.get(), address.sockaddr_ptr(), address.length()), 0);
  }
  // Each rejected connection is closed by the server: the client reads EOF (or a reset).
  for (auto& client : clients) {
    timeval timeout{5, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char byte = 0;
    EXPECT_LE(::recv(client.get(), &byte, 1, 0), 0) << "connection was not closed";
  }
  std::this_thread::sleep_for(300ms);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  const auto cpu_us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000L + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  // A server spinning on the listen queue would burn ~all of these 300+ ms on a core.
  EXPECT_LT(cpu_us(after) - cpu_us(before), 150000L) << "the accept loop spins while out of fds";

  fillers.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  clients.clear();
  test::TestClient fresh(address);
  ASSERT_TRUE(fresh.connected());
  ASSERT_TRUE(fresh.send_all("after"));
  EXPECT_EQ(fresh.recv_exact(5), "after");
  fresh.close();
  server.stop();
  server.wait();
}

}  // namespace
}  // namespace lf
