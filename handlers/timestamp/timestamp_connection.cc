#include "lf/handlers/timestamp/timestamp_connection.h"

#include <cstdio>
#include <string>

#include "lf/log/log.h"

namespace lf {

std::string_view TimestampConnection::format_time(std::time_t time) noexcept {
  // Formatting costs a gmtime_r: do it once a second per thread. The view stays valid until the
  // same thread formats another second.
  thread_local std::time_t cached_time = -1;
  thread_local char cached[32] = {};
  thread_local std::size_t cached_size = 0;
  if (time != cached_time) {
    std::tm tm{};
    ::gmtime_r(&time, &tm);
    cached_size = std::strftime(cached, sizeof cached, "[%Y-%m-%d %H:%M:%S]", &tm);
    cached_time = time;
  }
  return {cached, cached_size};
}

void TimestampConnection::on_message(Buffer& input) {
  // One reply buffer for every line in this read: one send() for all of them.
  if (refusing_) {
    input.retrieve_all();
    return;
  }
  std::string replies;
  bool too_long = false;
  while (const char* eol = input.find_eol()) {
    std::string_view line(input.peek(), static_cast<std::size_t>(eol - input.peek()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line_) {
      too_long = true;
      break;
    }
    replies += format_time(std::time(nullptr));
    replies += kReplyPrefix;
    replies += line;
    replies += '\n';
    input.retrieve_until(eol + 1);
  }
  send(replies);  // the answers to the lines before a bad one still go out
  // A partial line may hold the message and a '\r' whose '\n' has not arrived yet.
  if (too_long || input.readable_bytes() > max_line_ + 1) {
    LF_LOG_WARN("{}: line longer than {} bytes, ending the connection", peer_address().to_string(),
                max_line_);
    // The answers so far go out, then a FIN; whatever else the peer sends is dropped unread.
    input.retrieve_all();
    refusing_ = true;
    shutdown();
  }
}

}  // namespace lf
