#include "lf/handlers/codec/frame_decoder.h"

namespace lf {

FrameDecoder::Result FrameDecoder::next(const Buffer& input) const noexcept {
  Result result;
  if (input.readable_bytes() < kHeaderSize) return result;
  const std::int32_t length = input.peek_int32();
  result.announced_length = length;
  if (length < 0) {
    result.status = Status::kNegativeLength;
    return result;
  }
  const auto payload_size = static_cast<std::size_t>(length);
  if (payload_size > max_frame_size_) {
    result.status = Status::kTooLarge;
    return result;
  }
  if (input.readable_bytes() - kHeaderSize < payload_size) return result;
  result.status = Status::kFrame;
  result.payload = std::string_view(input.peek() + kHeaderSize, payload_size);
  result.frame_size = kHeaderSize + payload_size;
  return result;
}

}  // namespace lf
