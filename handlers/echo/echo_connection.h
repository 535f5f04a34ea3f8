// Public. EchoConnection: sends every byte it receives back to the peer, in order (RFC 862 over
// TCP). The smallest useful StreamConnection, and the workload of the echo benchmarks.
#pragma once

#include <chrono>

#include "lf/stream_connection.h"

namespace lf {

struct EchoOptions {
  // A stand-in for a blocking database call (the perf suite's mixed workload, docs/perf.md): block_permille of every
  // 1000 messages sleep block_time in the handling thread before they are answered. A message is
  // one on_message() call (what one read brought). The choice is deterministic: one process-wide
  // counter numbers the messages of every connection, and message n blocks when
  // floor((n + 1) * permille / 1000) > floor(n * permille / 1000), so the blocking ones are spread
  // evenly over each thousand.
  unsigned block_permille = 0;  // 0..1000
  std::chrono::milliseconds block_time{0};
};

class EchoConnection : public StreamConnection {
 public:
  EchoConnection() = default;
  explicit EchoConnection(EchoOptions options) noexcept : options_(options) {}

 protected:
  void on_message(Buffer& input) override;

 private:
  EchoOptions options_;
};

}  // namespace lf
