// Public. EchoConnection: sends every byte it receives back to the peer, in order (RFC 862 over
// TCP). The smallest useful StreamConnection, and the workload of the echo benchmarks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "lf/handlers/echo/block_kind.h"
#include "lf/net/stream_connection.h"

namespace lf {

struct EchoOptions {
  // A stand-in for a blocking database call chosen by the server: block_permille of every 1000
  // messages sleep block_time in the handling thread before they are answered. A message is
  // one on_message() call (what one read brought). The choice is deterministic: one process-wide
  // counter numbers the messages of every connection, and message n blocks when
  // floor((n + 1) * permille / 1000) > floor(n * permille / 1000), so the blocking ones are spread
  // evenly over each thousand.
  unsigned block_permille = 0;  // 0..1000
  std::chrono::milliseconds block_time{0};
  // Blocking chosen by the client (the perf suite's mixed workloads, docs/perf.md): when
  // message_size > 0 the stream is a sequence of message_size-byte messages whose first byte is a
  // BlockKind (block_kind.h); a marked message sleeps or computes for block_time before it is
  // echoed, the others are echoed at once. Only whole messages are handled: a partial one waits
  // for its remaining bytes. So the client knows exactly which of its messages blocked and can
  // measure the others (the victims) apart. Unlike block_permille, this frames the stream: use it
  // only with clients that send whole messages of that size.
  std::size_t message_size = 0;  // 0: off
  // If set, counted up as each message starts to block (either way of choosing): a hook for tests.
  std::atomic<std::uint64_t>* blocked_messages = nullptr;
};

class EchoConnection : public StreamConnection {
 public:
  EchoConnection() = default;
  explicit EchoConnection(EchoOptions options) noexcept : options_(options) {}

 protected:
  void on_message(Buffer& input) override;

 private:
  void echo_marked_messages(Buffer& input);
  void count_blocked() noexcept;

  EchoOptions options_;
};

}  // namespace lf
