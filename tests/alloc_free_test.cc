// Steady-state echo allocates nothing per message (docs/architecture.md, "Who owns a
// connection"): after a warm-up, thousands of echoed messages under every concurrency model make
// no heap allocation in the server; nor does counting into a registered metric once the thread
// has used it. This program replaces the global operator new to count.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/metrics/metric_registry.h"
#include "support/models.h"
#include "support/running_server.h"
#include "support/test_client.h"

namespace {
std::atomic<std::size_t> g_allocations{0};

void* counted_allocation(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* counted_aligned_allocation(std::size_t size, std::align_val_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto alignment = static_cast<std::size_t>(align);
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t rounded = (size + alignment - 1) / alignment * alignment;
  if (void* p = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) { return counted_allocation(size); }
void* operator new[](std::size_t size) { return counted_allocation(size); }
void* operator new(std::size_t size, std::align_val_t align) {
  return counted_aligned_allocation(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_aligned_allocation(size, align);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace lf {
namespace {

constexpr std::size_t kConnections = 8;
constexpr std::size_t kMessageSize = 16;

class AllocFree : public ::testing::TestWithParam<Model> {};

// Echoes `rounds` messages on every connection, one at a time per connection, with the client's
// bytes on the stack (the client allocates nothing either). False if an answer is wrong.
bool echo_rounds(std::vector<test::TestClient>& clients, std::size_t rounds) {
  std::array<char, kMessageSize> out{};
  std::array<char, kMessageSize> in{};
  for (std::size_t round = 0; round < rounds; ++round) {
    for (std::size_t c = 0; c < clients.size(); ++c) {
      out.fill(static_cast<char>('a' + (round + c) % 26));
      if (::send(clients[c].fd(), out.data(), out.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(out.size())) {
        return false;
      }
    }
    for (std::size_t c = 0; c < clients.size(); ++c) {
      std::size_t got = 0;
      while (got < in.size()) {
        const ssize_t n = ::recv(clients[c].fd(), in.data() + got, in.size() - got, 0);
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
      }
      if (in[0] != static_cast<char>('a' + (round + c) % 26)) return false;
    }
  }
  return true;
}

TEST_P(AllocFree, EchoedMessagesAllocateNothingAfterWarmUp) {
  ServerOptions options;
  options.model = GetParam();
  options.threads = 2;
  options.max_threads = 2;  // steady state: a thread started by growth allocates its own things
  test::RunningServer server(test::factory_of<EchoConnection>(), options);
  std::vector<test::TestClient> clients;
  clients.reserve(kConnections);
  for (std::size_t i = 0; i < kConnections; ++i) {
    clients.emplace_back(server.address());
    ASSERT_TRUE(clients.back().connected());
    // Blocking, with a timeout, so the loop below needs no poll (and a broken server fails the
    // test instead of hanging it).
    const int fd = clients.back().fd();
    ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
    const timeval limit{10, 0};
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit), 0);
  }
  // Warm-up: every thread gets its spare buffers and its ready vectors their capacity.
  ASSERT_TRUE(echo_rounds(clients, 500));

  constexpr std::size_t kRounds = 2500;  // 20,000 messages
  const std::size_t before = g_allocations.load();
  ASSERT_TRUE(echo_rounds(clients, kRounds));
  const std::size_t allocations = g_allocations.load() - before;
  // Zero per message. A handful is allowed for the server's background threads (timer wheel,
  // logger), whose work does not depend on the traffic: one allocation per message would be
  // 20,000 here.
  EXPECT_LE(allocations, 8u) << allocations << " allocations for " << kRounds * kConnections
                             << " echoed messages under " << to_string(GetParam());
}

INSTANTIATE_TEST_SUITE_P(alloc_free, AllocFree, test::every_model(), test::model_param_name);

TEST(AllocFreeMetrics, CountingAllocatesNothingAfterTheThreadsFirstUse) {
  auto counter = metrics::register_counter("alloc_free_total", "Added to");
  auto histogram = metrics::register_histogram("alloc_free_seconds", "Observed");
  counter.add();
  histogram.observe(0.001);  // first use: the thread's cells are allocated
  const std::size_t before = g_allocations.load();
  for (int i = 0; i < 100000; ++i) {
    counter.add();
    histogram.observe(std::chrono::nanoseconds(i * 1000));
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_EQ(counter.value(), 100001u);
}

}  // namespace
}  // namespace lf
