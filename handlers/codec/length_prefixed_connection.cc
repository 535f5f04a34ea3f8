#include "lf/handlers/codec/length_prefixed_connection.h"

#include <cstdint>
#include <limits>
#include <stdexcept>

#include "lf/log/log.h"

namespace lf {

void LengthPrefixedConnection::send_frame(std::string_view payload) {
  Buffer frame(payload.size());  // room for the payload; the header goes in the prepend area
  frame.append(payload);
  send_frame(frame);
}

void LengthPrefixedConnection::send_frame(Buffer& payload) {
  const std::size_t size = payload.readable_bytes();
  if (size > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::length_error("lf::LengthPrefixedConnection: frame payload over 2 GiB");
  }
  if (payload.prependable_bytes() < FrameDecoder::kHeaderSize) {
    // Only a moved-from Buffer has no prepend area: copy it into one that has.
    Buffer copy(size);
    copy.append(payload.view());
    payload.retrieve_all();
    payload.swap(copy);
  }
  payload.prepend_int32(static_cast<std::int32_t>(size));
  // One send(): the header and its payload are queued together, so frames sent from several
  // threads never interleave.
  send(payload);
}

void LengthPrefixedConnection::on_message(Buffer& input) {
  // Above the high-water mark the remaining frames wait in `input` until the output drains.
  while (!output_full()) {
    const FrameDecoder::Result frame = decoder_.next(input);
    switch (frame.status) {
      case FrameDecoder::Status::kNeedMore:
        return;
      case FrameDecoder::Status::kFrame:
        on_frame(frame.payload);
        // on_frame() may have closed the connection, which releases the input buffer.
        if (!connected()) return;
        input.retrieve(frame.frame_size);
        break;
      case FrameDecoder::Status::kTooLarge:
        LF_LOG_WARN("{}: frame of {} bytes exceeds the maximum of {}, closing",
                    peer_address().to_string(), frame.announced_length, max_frame_size());
        force_close();
        return;
      case FrameDecoder::Status::kNegativeLength:
        LF_LOG_WARN("{}: frame header announces a negative length ({}), closing",
                    peer_address().to_string(), frame.announced_length);
        force_close();
        return;
    }
  }
}

}  // namespace lf
