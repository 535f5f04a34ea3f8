// An idle connection holds no buffer memory (docs/perf.md: <= 1 KiB resident per idle connection).
// Measured as the heap this process keeps per connection (glibc's mallinfo2, summed over every
// arena) after each of 2,000 connections echoed one message, under every concurrency model. The
// clients live in a vector reserved beforehand, so they allocate nothing themselves. Skipped
// under the sanitizers, which replace malloc.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/server.h"
#include "support/heap.h"
#include "support/models.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kConnections = 2000;
constexpr std::size_t kLimitPerConnection = 1024;

class IdleMemory : public ::testing::TestWithParam<Model> {};

TEST_P(IdleMemory, AnIdleConnectionKeepsUnderOneKibibyteOfHeap) {
  if (test::kMallocReplaced) GTEST_SKIP() << "the sanitizer's allocator does not feed mallinfo2";
  if (test::raise_fd_limit(2 * kConnections + 64) < 2 * kConnections + 64) {
    GTEST_SKIP() << "needs " << 2 * kConnections + 64 << " file descriptors";
  }
  ServerOptions options;
  options.model = GetParam();
  options.threads = 2;
  options.handle_signals = false;
  Server server(options);
  const InetAddress address = server.listen<EchoConnection>(InetAddress(0, /*loopback=*/true));
  server.start();

  std::vector<test::TestClient> clients;
  clients.reserve(kConnections + 1);
  // One round trip first, so every thread's first-use allocations are in the baseline.
  clients.emplace_back(address, 10s);
  ASSERT_TRUE(clients.back().send_all("warm"));
  ASSERT_EQ(clients.back().recv_exact(4), "warm");

  const std::size_t before = test::heap_in_use();
  for (std::size_t i = 0; i < kConnections; ++i) {
    clients.emplace_back(address, 10s);
    ASSERT_TRUE(clients.back().send_all("ping")) << "connection " << i;
    ASSERT_EQ(clients.back().recv_exact(4), "ping") << "connection " << i;
  }
  // The server frees a connection's buffers just after it writes the echo: give the last few
  // a moment.
  const auto per_connection = [&] {
    const std::size_t now = test::heap_in_use();
    return now > before ? (now - before) / kConnections : 0;
  };
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (per_connection() > kLimitPerConnection && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  const std::size_t measured = per_connection();
  RecordProperty("heap_bytes_per_idle_connection", fmt::format("{}", measured));
  EXPECT_LE(measured, kLimitPerConnection) << "bytes of heap per idle connection";

  clients.clear();
  server.stop();
  server.wait();
}

INSTANTIATE_TEST_SUITE_P(models, IdleMemory, test::every_model(), test::model_param_name);

}  // namespace
}  // namespace lf
