// A client for the fault-injection test (fault_test.sh): CONNECTIONS threads each run echo rounds
// of random size against HOST:PORT for SECONDS, compare every byte that comes back with what was
// sent, and reconnect when the server closes a connection (a fault hit it). Prints the figures;
// exits 1 if a byte came back wrong, a connection stalled (no progress for 10 s), or no round
// completed at all.
//   fault_client HOST PORT CONNECTIONS SECONDS [SEED]
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/net/inet_address.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Totals {
  std::atomic<std::uint64_t> rounds{0}, bytes{0}, affected{0}, stalls{0}, corrupt{0}, refused{0};
};

lf::UniqueFd connect_to(const lf::InetAddress& address) {
  lf::UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fd;
  if (::connect(fd.get(), address.sockaddr_ptr(), address.length()) != 0 && errno != EINPROGRESS) {
    return {};
  }
  pollfd p{fd.get(), POLLOUT, 0};
  int error = 0;
  socklen_t len = sizeof error;
  if (::poll(&p, 1, 5000) != 1 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 ||
      error != 0) {
    return {};
  }
  return fd;
}

enum class Round { kDone, kClosed, kStalled, kCorrupt };

// Sends `data` and reads it back, checking each byte as it arrives.
Round echo_round(int fd, const std::string& data, std::uint64_t& verified) {
  std::size_t sent = 0, received = 0;
  std::string chunk(64 * 1024, '\0');
  while (received < data.size()) {
    pollfd p{fd, static_cast<short>(POLLIN | (sent < data.size() ? POLLOUT : 0)), 0};
    const int ready = ::poll(&p, 1, 10000);
    if (ready == 0) return Round::kStalled;
    if (ready < 0) continue;
    if ((p.revents & POLLOUT) != 0 && sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
      else if (errno != EAGAIN && errno != EINTR) return Round::kClosed;
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
      if (n == 0) return Round::kClosed;
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return Round::kClosed;
      }
      const auto got = static_cast<std::size_t>(n);
      if (received + got > sent || data.compare(received, got, chunk, 0, got) != 0) {
        return Round::kCorrupt;
      }
      received += got;
      verified += got;
    }
  }
  return Round::kDone;
}

void worker(const lf::InetAddress& address, Clock::time_point deadline, std::uint64_t seed,
            Totals& totals) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::size_t> size(1, 64 * 1024);
  lf::UniqueFd fd;
  while (Clock::now() < deadline) {
    if (!fd) {
      fd = connect_to(address);
      if (!fd) {
        ++totals.refused;  // a faulted accept closes the connection at once: try again
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
    }
    std::string data(size(random), '\0');
    for (char& c : data) c = static_cast<char>(random());
    std::uint64_t verified = 0;
    const Round result = echo_round(fd.get(), data, verified);
    totals.bytes += verified;
    switch (result) {
      case Round::kDone:
        ++totals.rounds;
        break;
      case Round::kClosed:
        ++totals.affected;
        fd.reset();
        break;
      case Round::kStalled:
        ++totals.stalls;
        fd.reset();
        break;
      case Round::kCorrupt:
        ++totals.corrupt;
        fd.reset();
        break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: fault_client HOST PORT CONNECTIONS SECONDS [SEED]\n");
    return 2;
  }
  const auto address =
      lf::InetAddress::parse(argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])));
  if (!address) return 2;
  const int connections = std::atoi(argv[3]);
  const auto deadline = Clock::now() + std::chrono::seconds(std::atoi(argv[4]));
  const std::uint64_t seed = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 1;
  Totals totals;
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back(worker, std::cref(*address), deadline, seed * 1000 + static_cast<std::uint64_t>(i),
                         std::ref(totals));
  }
  for (auto& t : threads) t.join();
  std::printf("fault_client: %llu rounds, %llu bytes verified, %llu connections closed by faults, "
              "%llu connects refused, %llu stalled, %llu corrupt\n",
              static_cast<unsigned long long>(totals.rounds.load()),
              static_cast<unsigned long long>(totals.bytes.load()),
              static_cast<unsigned long long>(totals.affected.load()),
              static_cast<unsigned long long>(totals.refused.load()),
              static_cast<unsigned long long>(totals.stalls.load()),
              static_cast<unsigned long long>(totals.corrupt.load()));
  return totals.corrupt == 0 && totals.stalls == 0 && totals.rounds > 0 ? 0 : 1;
}
