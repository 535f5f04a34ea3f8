// Test support: keeping the peak of a value sampled on many threads (pending output, input held).
#pragma once

#include <atomic>
#include <cstddef>

namespace lf::test {

// Raises `peak` to `value` unless it already holds more; safe from any thread.
inline void raise_peak(std::atomic<std::size_t>& peak, std::size_t value) {
  std::size_t seen = peak.load();
  while (seen < value && !peak.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace lf::test
