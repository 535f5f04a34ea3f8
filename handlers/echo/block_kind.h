// Public, header only. BlockKind: what the first byte of a client-marked echo message asks the
// server to do before it echoes the message (lf-echo --client-blocks, the perf suite's mixed
// workloads). Shared by lf-echo, the Asio peer and loadgen, so every server does the same work.
// Thread safe (no shared state but a relaxed atomic sink).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace lf {

enum class BlockKind : unsigned char {
  kNone = 0,     // echo at once
  kSleep = 1,    // sleep first: a stand-in for a blocking call (a database, a disk)
  kCompute = 2,  // compute first without sleeping: a CPU-heavy request
};

// The kind a message's first byte asks for; any other byte value is kNone, so a client that does
// not mark its messages loses nothing but the few that happen to start with 1 or 2.
[[nodiscard]] constexpr BlockKind block_kind_of(unsigned char first_byte) noexcept {
  switch (first_byte) {
    case static_cast<unsigned char>(BlockKind::kSleep):
      return BlockKind::kSleep;
    case static_cast<unsigned char>(BlockKind::kCompute):
      return BlockKind::kCompute;
    default:
      return BlockKind::kNone;
  }
}

namespace detail {
// Where compute_for() leaves its result: a store the compiler must keep, so the loop stays.
inline std::atomic<std::uint64_t> g_compute_sink{0};
}  // namespace detail

// Keeps the calling thread busy for `duration` of wall-clock time without sleeping. The clock is
// read once per 4096 steps of a 64-bit LCG (a few microseconds), so the overrun is small.
inline void compute_for(std::chrono::nanoseconds duration) noexcept {
  const auto until = std::chrono::steady_clock::now() + duration;
  std::uint64_t x = detail::g_compute_sink.load(std::memory_order_relaxed) | 1U;
  do {
    for (int i = 0; i < 4096; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  } while (std::chrono::steady_clock::now() < until);
  detail::g_compute_sink.store(x, std::memory_order_relaxed);
}

// Does what `kind` asks for `duration` (nothing for kNone).
inline void block(BlockKind kind, std::chrono::nanoseconds duration) {
  switch (kind) {
    case BlockKind::kSleep:
      std::this_thread::sleep_for(duration);
      break;
    case BlockKind::kCompute:
      compute_for(duration);
      break;
    case BlockKind::kNone:
      break;
  }
}

}  // namespace lf
