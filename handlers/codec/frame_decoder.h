// Public. FrameDecoder: splits a byte stream into length-prefixed frames (a 4-byte big-endian
// signed length, then that many payload bytes). Pure: no sockets, no allocation, so it can be
// unit-tested and fuzzed on a Buffer alone. Not thread safe (it has no state; a Buffer has).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lf/net/buffer.h"

namespace lf {

class FrameDecoder {
 public:
  static constexpr std::size_t kHeaderSize = sizeof(std::int32_t);
  static constexpr std::size_t kDefaultMaxFrameSize = 16 * 1024 * 1024;

  enum class Status : std::uint8_t {
    kFrame,           // a whole frame is at the front of the input
    kNeedMore,        // the header or the payload is not complete yet
    kTooLarge,        // the header announces more than the maximum frame size
    kNegativeLength,  // the header announces a negative length
  };

  struct Result {
    Status status = Status::kNeedMore;
    // kFrame: the payload, a view into the input (valid until the input is modified).
    std::string_view payload;
    // kFrame: header + payload bytes, to retrieve once the payload is used.
    std::size_t frame_size = 0;
    // kFrame, kTooLarge, kNegativeLength: the length the header announced.
    std::int64_t announced_length = 0;
  };

  // max_frame_size bounds the payload (the header is not counted).
  explicit FrameDecoder(std::size_t max_frame_size = kDefaultMaxFrameSize) noexcept
      : max_frame_size_(max_frame_size) {}

  // Looks at the front of `input` without consuming it. An error is decided from the header
  // alone, before any of the payload is waited for (so before anything is allocated for it).
  [[nodiscard]] Result next(const Buffer& input) const noexcept;

  [[nodiscard]] std::size_t max_frame_size() const noexcept { return max_frame_size_; }

 private:
  std::size_t max_frame_size_;
};

}  // namespace lf
