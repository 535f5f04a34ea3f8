// Soak: many connections run random-sized echo rounds for a while against an in-process echo
// Server, under every concurrency model; every byte that comes back is compared with what was
// sent (and summed into a checksum), and resident memory is reported at the start (after a
// warm-up second) and at the end. The short version runs in ctest (label soak); the full one is
//   LF_SOAK_SECONDS=60 LF_SOAK_CONNECTIONS=1000 tests/soak/soak.sh BUILD_DIR
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/models/model.h"
#include "lf/server.h"
#include "support/test_client.h"

namespace lf::test {
namespace {

using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__)
constexpr std::size_t kDefaultConnections = 200;
#else
constexpr std::size_t kDefaultConnections = 1000;
#endif

std::size_t env_or(const char* name, std::size_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

// VmRSS of this process, in KiB.
long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

struct Totals {
  std::atomic<std::uint64_t> rounds{0}, bytes{0}, corrupt{0}, failed{0};
  std::atomic<std::uint64_t> checksums{0};  // of every round's payload, added up (reported)
};

// FNV-1a continued over another piece (support/test_client.h's checksum() of the whole).
std::uint64_t fnv1a(std::uint64_t hash, std::string_view data) {
  for (char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}
constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

// One connection's round: a payload sent and read back, compared as it arrives.
struct Connection {
  UniqueFd fd;
  std::mt19937_64 random;
  std::string payload;
  std::size_t sent = 0;
  std::size_t received = 0;
  std::uint64_t received_hash = kFnvBasis;  // of the bytes received this round
};

// A client thread: its connections on its own epoll, until the deadline; then it finishes the
// rounds in flight. Failures are counted in `totals`.
void run_client(const InetAddress& server, std::size_t count, std::uint64_t seed,
                Clock::time_point deadline, Totals& totals) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  std::vector<Connection> connections(count);
  std::uniform_int_distribution<std::size_t> size(1, 16 * 1024);
  auto start_round = [&](Connection& c) {
    c.payload.resize(size(c.random));
    for (char& ch : c.payload) ch = static_cast<char>(c.random());
    c.sent = c.received = 0;
    c.received_hash = kFnvBasis;
    epoll_event ev{EPOLLIN | EPOLLOUT, {.ptr = &c}};
    ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  };
  for (std::size_t i = 0; i < count; ++i) {
    Connection& c = connections[i];
    c.random.seed(seed * 100000 + i);
    TestClient client(server);
    if (!client.connected()) {
      ++totals.failed;
      return;
    }
    c.fd.reset(::dup(client.fd()));
    epoll_event ev{EPOLLIN, {.ptr = &c}};
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, c.fd.get(), &ev);
    start_round(c);
  }
  std::size_t in_flight = count;
  std::vector<epoll_event> events(256);
  std::string scratch(64 * 1024, '\0');
  auto last_progress = Clock::now();
  while (in_flight > 0) {
    const int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), 100);
    if (n > 0) last_progress = Clock::now();
    if (Clock::now() - last_progress > std::chrono::seconds(20)) {
      totals.failed += in_flight;  // stalled: rounds lost
      return;
    }
    for (int i = 0; i < n; ++i) {
      Connection& c = *static_cast<Connection*>(events[static_cast<std::size_t>(i)].data.ptr);
      const std::uint32_t bits = events[static_cast<std::size_t>(i)].events;
      if ((bits & EPOLLOUT) != 0 && c.sent < c.payload.size()) {
        const ssize_t w = ::send(c.fd.get(), c.payload.data() + c.sent, c.payload.size() - c.sent,
                                 MSG_NOSIGNAL);
        if (w > 0) c.sent += static_cast<std::size_t>(w);
        if (c.sent == c.payload.size()) {
          epoll_event ev{EPOLLIN, {.ptr = &c}};
          ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
        }
      }
      if ((bits & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) continue;
      const ssize_t r = ::recv(c.fd.get(), scratch.data(), scratch.size(), 0);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        ++totals.failed;  // the server closed a connection it should have kept
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        --in_flight;
        continue;
      }
      const auto got = static_cast<std::size_t>(r);
      if (c.received + got > c.sent || c.payload.compare(c.received, got, scratch, 0, got) != 0) {
        ++totals.corrupt;
      }
      c.received_hash = fnv1a(c.received_hash, std::string_view(scratch.data(), got));
      c.received += got;
      if (c.received < c.payload.size()) continue;
      const std::uint64_t sent_hash = checksum(c.payload);
      if (c.received_hash != sent_hash) ++totals.corrupt;
      ++totals.rounds;
      totals.bytes += c.payload.size();
      totals.checksums += sent_hash;
      if (Clock::now() < deadline) {
        start_round(c);
      } else {
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        --in_flight;
      }
    }
  }
}

class Soak : public ::testing::TestWithParam<Model> {};

TEST_P(Soak, RandomEchoLosesAndCorruptsNothing) {
  const std::size_t connections = env_or("LF_SOAK_CONNECTIONS", kDefaultConnections);
  const auto seconds = std::chrono::seconds(env_or("LF_SOAK_SECONDS", 5));
  raise_fd_limit(2 * connections + 200);
  ServerOptions options;
  options.threads = 4;
  options.handle_signals = false;
  options.model = GetParam();
  Server server(options);
  const InetAddress address = server.listen<EchoConnection>(InetAddress(0, /*loopback=*/true));
  server.start();

  Totals totals;
  constexpr std::size_t kClientThreads = 4;
  const auto start = Clock::now();
  const auto deadline = start + seconds;
  std::vector<std::thread> clients;
  for (std::size_t t = 0; t < kClientThreads; ++t) {
    const std::size_t share = connections / kClientThreads + (t < connections % kClientThreads);
    clients.emplace_back(run_client, std::cref(address), share, t + 1, deadline, std::ref(totals));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up: connections and buffers
  const long rss_start = rss_kb();
  const std::size_t held = server.connections();
  // RSS every 10 s, to tell growth that levels off (buffers reaching their working size) from a
  // leak.
  std::string rss_samples;
  auto next_sample = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Clock::now() < next_sample) continue;
    rss_samples += ' ';
    rss_samples += std::to_string(rss_kb());
    next_sample += std::chrono::seconds(10);
  }
  for (auto& t : clients) t.join();
  const long rss_end = rss_kb();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  server.stop();
  server.wait();

  std::printf("soak %s: %zu connections (%zu held), %.1f s: %llu rounds, %llu bytes echoed and "
              "checked (checksum sum %016llx), %llu corrupt, %llu lost; RSS %ld KiB after warm-up,"
              " every 10 s:%s, %ld KiB at the end\n",
              std::string(to_string(GetParam())).c_str(), connections, held, elapsed,
              static_cast<unsigned long long>(totals.rounds.load()),
              static_cast<unsigned long long>(totals.bytes.load()),
              static_cast<unsigned long long>(totals.checksums.load()),
              static_cast<unsigned long long>(totals.corrupt.load()),
              static_cast<unsigned long long>(totals.failed.load()), rss_start,
              rss_samples.c_str(), rss_end);
  EXPECT_EQ(totals.corrupt.load(), 0u);
  EXPECT_EQ(totals.failed.load(), 0u);
  EXPECT_GE(totals.rounds.load(), connections);
}

INSTANTIATE_TEST_SUITE_P(Models, Soak, ::testing::ValuesIn(all_models()),
                         [](const ::testing::TestParamInfo<Model>& param) {
                           std::string name(to_string(param.param));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace lf::test
