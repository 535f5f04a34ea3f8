#include "lf/handlers/echo/echo_connection.h"

#include <string_view>
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
  if (options_.message_size > 0) return echo_marked_messages(input);
  if (options_.block_permille > 0 && options_.block_time.count() > 0 &&
      should_block(options_.block_permille)) {
    count_blocked();
    std::this_thread::sleep_for(options_.block_time);
  }
  send(input);
}

// Each marked message is answered only after its block, but the messages before it in the same
// read are sent first: a batch is not held up by a block further on in it.
void EchoConnection::echo_marked_messages(Buffer& input) {
  const std::size_t size = options_.message_size;
  const std::size_t whole = input.readable_bytes() / size * size;
  const std::string_view messages(input.peek(), whole);
  std::size_t unsent = 0;  // start of the messages not yet sent
  for (std::size_t at = 0; at < whole; at += size) {
    const BlockKind kind = block_kind_of(static_cast<unsigned char>(messages[at]));
    if (kind == BlockKind::kNone) continue;
    if (at > unsent) send(messages.substr(unsent, at - unsent));
    unsent = at;
    count_blocked();
    block(kind, options_.block_time);
  }
  // All of the input, as usual: send(Buffer&) may swap storage instead of copying.
  if (unsent == 0 && whole == input.readable_bytes()) {
    send(input);
    return;
  }
  if (whole > unsent) send(messages.substr(unsent, whole - unsent));
  input.retrieve(whole);  // a partial message stays for the next call
}

void EchoConnection::count_blocked() noexcept {
  if (options_.blocked_messages != nullptr) {
    options_.blocked_messages->fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace lf
