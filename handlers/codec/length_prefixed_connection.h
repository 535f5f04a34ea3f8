// Public. LengthPrefixedConnection: a StreamConnection base for binary protocols whose messages
// are frames: a 4-byte big-endian length, then that many payload bytes. Subclasses implement
// on_frame(); send_frame() is thread safe like send(). A header announcing a negative length or
// more than the maximum frame size closes the connection at once (logged at WARN), before
// anything is allocated for the payload; replies still queued for that peer are dropped.
#pragma once

#include <cstddef>
#include <string_view>

#include "lf/handlers/codec/frame_decoder.h"
#include "lf/net/buffer.h"
#include "lf/net/stream_connection.h"

namespace lf {

class LengthPrefixedConnection : public StreamConnection {
 public:
  static constexpr std::size_t kDefaultMaxFrameSize = FrameDecoder::kDefaultMaxFrameSize;

  // Frames whose payload is larger than max_frame_size are refused (the peer is closed).
  explicit LengthPrefixedConnection(std::size_t max_frame_size = kDefaultMaxFrameSize) noexcept
      : decoder_(max_frame_size) {}

  // Thread safe. Queues one frame carrying `payload`. The frame is queued as one piece, so
  // frames sent by several threads never interleave. Throws std::length_error if the payload
  // does not fit a 4-byte signed length.
  void send_frame(std::string_view payload);
  // Thread safe. As above, taking the payload from `payload` (which is emptied): the header is
  // written into the Buffer's prepend area, so the payload is not copied to make the frame.
  void send_frame(Buffer& payload);

  [[nodiscard]] std::size_t max_frame_size() const noexcept { return decoder_.max_frame_size(); }

 protected:
  // One complete frame. Runs on the connection's processing thread, like every hook. `payload`
  // points into the input buffer: it is valid until on_frame() returns, and no longer once the
  // connection is closed (so copy what you need before calling force_close()).
  virtual void on_frame(std::string_view payload) = 0;

  // StreamConnection: decodes every complete frame in `input`, leaves a partial one.
  void on_message(Buffer& input) final;

 private:
  FrameDecoder decoder_;
};

}  // namespace lf
