// libFuzzer target: FrameDecoder on a Buffer. Decodes the input as a stream of length-prefixed
// frames twice, once whole and once appended one byte at a time; both must give the same frames
// and the same final status, and every frame must be its header's length of input bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lf/handlers/codec/frame_decoder.h"
#include "lf/net/buffer.h"

namespace {

struct Outcome {
  std::vector<std::string> frames;
  int last_status = 0;
  std::int64_t announced = 0;  // of the failing header
  bool operator==(const Outcome&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

// Takes every complete frame off `buffer`; false once the decoder reports an error.
bool drain(const lf::FrameDecoder& decoder, lf::Buffer& buffer, std::string_view input,
           std::size_t& offset, Outcome& out) {
  for (;;) {
    const auto result = decoder.next(buffer);
    out.last_status = static_cast<int>(result.status);
    switch (result.status) {
      case lf::FrameDecoder::Status::kNeedMore:
        check(buffer.readable_bytes() < lf::FrameDecoder::kHeaderSize ||
              static_cast<std::size_t>(buffer.peek_int32()) + lf::FrameDecoder::kHeaderSize >
                  buffer.readable_bytes());
        return true;
      case lf::FrameDecoder::Status::kFrame:
        check(result.frame_size == result.payload.size() + lf::FrameDecoder::kHeaderSize);
        check(result.frame_size <= buffer.readable_bytes());
        check(result.payload.size() <= decoder.max_frame_size());
        check(static_cast<std::size_t>(result.announced_length) == result.payload.size());
        check(result.payload == input.substr(offset + lf::FrameDecoder::kHeaderSize,
                                             result.payload.size()));
        out.frames.emplace_back(result.payload);
        offset += result.frame_size;
        buffer.retrieve(result.frame_size);
        break;
      case lf::FrameDecoder::Status::kTooLarge:
        check(result.announced_length > static_cast<std::int64_t>(decoder.max_frame_size()));
        out.announced = result.announced_length;
        return false;
      case lf::FrameDecoder::Status::kNegativeLength:
        check(result.announced_length < 0);
        out.announced = result.announced_length;
        return false;
    }
  }
}

Outcome run(std::string_view input, std::size_t max_frame, bool bytewise) {
  Outcome out;
  const lf::FrameDecoder decoder(max_frame);
  lf::Buffer buffer(1);  // small, so appends grow and move it
  std::size_t offset = 0;
  if (!bytewise) {
    buffer.append(input);
    drain(decoder, buffer, input, offset, out);
    return out;
  }
  if (!drain(decoder, buffer, input, offset, out)) return out;
  for (char c : input) {
    buffer.append(&c, 1);
    if (!drain(decoder, buffer, input, offset, out)) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  const std::size_t max_frame = data[0] & 1 ? 64 : lf::FrameDecoder::kDefaultMaxFrameSize;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  check(run(input, max_frame, false) == run(input, max_frame, true));
  return 0;
}
