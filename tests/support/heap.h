// The heap this process holds, for tests that measure memory per connection: glibc's mallinfo2,
// summed over every arena. The sanitizers replace malloc and do not feed it, so such tests skip
// themselves when kMallocReplaced.
#pragma once

#include <malloc.h>

#include <cstddef>

namespace lf::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kMallocReplaced = true;
#else
inline constexpr bool kMallocReplaced = false;
#endif

inline std::size_t heap_in_use() {
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;  // small chunks in use + mmapped chunks
}

}  // namespace lf::test
