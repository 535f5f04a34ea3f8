#include "echo/echo_connection.h"

#include <atomic>
#include <cstdint>
#include <thread>

namespace lf {

namespace {
std::atomic<std::uint64_t> g_messages{0};

// True for block_permille of every 1000 calls, spread evenly (see EchoOptions).
bool should_block(unsigned permille) noexcept {
  const std::uint64_t n = g_messages.fetch_add(1, std::memory_order_relaxed);
  return (n + 1) * permille / 1000 > n * permille / 1000;
}
}  // namespace

void EchoConnection::on_message(Buffer& input) {
  if (options_.block_permille > 0 && options_.block_time.count() > 0 &&
      should_block(options_.block_permille)) {
    std::this_thread::sleep_for(options_.block_time);
  }
  send(input);
}

}  // namespace lf
