// epoll_echo: the floor of the perf suite (docs/perf.md): a raw single-threaded epoll echo server that
// does the least work per message: level-triggered, one read into a shared 64 KiB buffer, one
// write back; only bytes the socket would not take are kept, and reading from that connection
// pauses until they are gone. --block-permille/--block-ms make X of every 1000 reads sleep for
// the mixed workload.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Pending {
  bool open = false;
  std::vector<char> output;  // bytes the socket did not take yet
};

class EpollEcho {
 public:
  EpollEcho(int listen_fd, unsigned block_permille, unsigned block_ms)
      : listen_fd_(listen_fd), epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        block_permille_(block_permille), block_ms_(block_ms), buffer_(65536) {
    watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
  }

  [[noreturn]] void run() {
    std::vector<epoll_event> events(1024);
    for (;;) {
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
      for (int i = 0; i < n; ++i) {
        const epoll_event& event = events[static_cast<std::size_t>(i)];
        if (event.data.fd == listen_fd_) {
          accept_all();
        } else if ((event.events & EPOLLOUT) != 0) {
          drain(event.data.fd);
        } else {
          echo(event.data.fd);
        }
      }
    }
  }

 private:
  void watch(int fd, std::uint32_t events, int op) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    ::epoll_ctl(epoll_fd_, op, fd, &event);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or EMFILE and friends: try again on the next event
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= connections_.size()) connections_.resize(static_cast<std::size_t>(fd) + 1);
      connections_[static_cast<std::size_t>(fd)].open = true;
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  void close_connection(int fd) {
    Pending& c = connections_[static_cast<std::size_t>(fd)];
    c.open = false;
    c.output.clear();
    c.output.shrink_to_fit();
    ::close(fd);  // also removes it from the epoll set
  }

  void maybe_block() {
    if (block_permille_ == 0) return;
    // Spread evenly: block whenever count * permille / 1000 steps up.
    const std::uint64_t before = count_++ * block_permille_ / 1000;
    if (count_ * block_permille_ / 1000 != before) {
      std::this_thread::sleep_for(std::chrono::milliseconds(block_ms_));
    }
  }

  void echo(int fd) {
    const ssize_t n = ::recv(fd, buffer_.data(), buffer_.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return close_connection(fd);
    if (n < 0) return;
    maybe_block();
    const auto size = static_cast<std::size_t>(n);
    const ssize_t w = ::send(fd, buffer_.data(), size, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) return close_connection(fd);
    const std::size_t written = w < 0 ? 0 : static_cast<std::size_t>(w);
    if (written < size) {
      Pending& c = connections_[static_cast<std::size_t>(fd)];
      c.output.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(written), buffer_.begin() + n);
      watch(fd, EPOLLOUT, EPOLL_CTL_MOD);  // stop reading until the rest is written
    }
  }

  void drain(int fd) {
    Pending& c = connections_[static_cast<std::size_t>(fd)];
    const ssize_t w = ::send(fd, c.output.data(), c.output.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN) close_connection(fd);
      return;
    }
    c.output.erase(c.output.begin(), c.output.begin() + w);
    if (c.output.empty()) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
  }

  int listen_fd_;
  int epoll_fd_;
  unsigned block_permille_;
  unsigned block_ms_;
  std::uint64_t count_ = 0;
  std::vector<char> buffer_;
  std::vector<Pending> connections_;  // indexed by fd
};

int listen_on(const std::string& host, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    throw std::runtime_error("--host must be a numeric IPv4 address");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    throw std::runtime_error(fmt::format("listen on {}:{}: {}", host, port, std::strerror(errno)));
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"epoll_echo: raw single-threaded epoll echo server (the perf suite's floor)"};
  std::string host = "127.0.0.1";
  std::uint16_t port = 7100;
  unsigned threads = 1;
  unsigned block_permille = 0;
  unsigned block_ms = 2;
  app.add_option("--host", host, "numeric IPv4 address");
  app.add_option("--port", port, "port");
  app.add_option("--threads", threads, "always 1: the floor is single-threaded")->check(CLI::Range(1, 1));
  app.add_option("--block-permille", block_permille, "of every 1000 reads, this many sleep")
      ->check(CLI::Range(0, 1000));
  app.add_option("--block-ms", block_ms, "how long a blocking read sleeps (ms)");
  CLI11_PARSE(app, argc, argv);
  try {
    std::signal(SIGPIPE, SIG_IGN);
    EpollEcho server(listen_on(host, port), block_permille, block_ms);
    fmt::print("epoll_echo listening on {}:{}\n", host, port);
    std::fflush(stdout);
    server.run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "epoll_echo: {}\n", e.what());
    return 1;
  }
}
