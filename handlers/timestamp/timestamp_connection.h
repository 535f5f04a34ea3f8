// Public. TimestampConnection: a line protocol. Each message is one line ending in '\n' (a
// "\r\n" ending is accepted too); the reply is "[YYYY-mm-dd HH:MM:SS]server reply: " followed by
// the message and '\n'. The time is UTC, like the logger's. A trailing partial line waits for
// the rest of it. A line longer than the limit ends the conversation (logged at WARN): the
// answers to the lines before it are sent, then the connection half-closes and drops any further
// input until the peer closes.
#pragma once

#include <cstddef>
#include <ctime>
#include <string_view>

#include "lf/net/buffer.h"
#include "lf/net/stream_connection.h"

namespace lf {

class TimestampConnection : public StreamConnection {
 public:
  static constexpr std::size_t kDefaultMaxLine = 64 * 1024;
  static constexpr std::string_view kReplyPrefix = "server reply: ";

  // Lines longer than max_line bytes (without the line ending) end the connection.
  explicit TimestampConnection(std::size_t max_line = kDefaultMaxLine) noexcept
      : max_line_(max_line) {}

  // "[YYYY-mm-dd HH:MM:SS]" for `time` in UTC (21 characters). Thread safe.
  [[nodiscard]] static std::string_view format_time(std::time_t time) noexcept;

 protected:
  void on_message(Buffer& input) override;

 private:
  std::size_t max_line_;
  bool refusing_ = false;  // a line was too long: input is dropped until the peer closes
};

}  // namespace lf
