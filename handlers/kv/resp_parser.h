// Public. RespParser: an incremental parser for Redis requests, RESP2 multibulk ("*2\r\n$3\r\nGET
// \r\n$1\r\nk\r\n") and inline ("GET k\r\n"). Pure: it reads a byte range and touches no socket,
// so it can be fuzzed alone. It follows Redis 7's processMultibulkBuffer/processInlineBuffer,
// including their error texts. Not thread safe (one per connection).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lf {

struct RespLimits {
  std::size_t max_bulk_length = 512 * 1024 * 1024;   // Redis proto-max-bulk-len
  std::size_t max_multibulk_length = 1024 * 1024;    // arguments per command
  std::size_t max_inline_length = 64 * 1024;         // Redis PROTO_INLINE_MAX_SIZE
};

class RespParser {
 public:
  enum class Status {
    kNeedMore,  // no complete command yet: call again with the same start and more bytes
    kCommand,   // args() holds a command of consumed() bytes
    kError,     // a protocol error: reply error() and close the connection
  };

  explicit RespParser(RespLimits limits = {}) : limits_(limits) {}

  // Parses the command at the start of `input`. After kNeedMore the parser remembers how far it
  // got, so the next call must pass the same bytes (plus more): a large value arriving in many
  // reads is scanned once. After kCommand, pass the bytes after consumed() next.
  [[nodiscard]] Status parse(std::string_view input);

  // The arguments of the last command (kCommand). They point into `input` (multibulk) or into
  // the parser (inline): valid until the next parse() or until the input is consumed.
  [[nodiscard]] const std::vector<std::string_view>& args() const noexcept { return args_; }
  // Bytes of the last command, or of empty lines skipped (kCommand with no args: skip them).
  [[nodiscard]] std::size_t consumed() const noexcept { return consumed_; }
  // The least number of bytes the pending command needs, as far as its headers tell (kNeedMore).
  [[nodiscard]] std::size_t bytes_needed() const noexcept { return needed_; }
  // "Protocol error: ..." (kError), to be sent as "-ERR <error>".
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  Status parse_multibulk(std::string_view input);
  Status parse_inline(std::string_view input);
  Status fail(std::string message);
  Status complete(std::size_t consumed);
  void reset_pending() noexcept;

  RespLimits limits_;
  // A multibulk command in progress: arguments still expected, the length of the bulk whose
  // header was read (-1: none), where scanning resumes, and the arguments found so far as
  // offsets into the input (the input may move between calls, offsets stay valid).
  long long multibulk_left_ = 0;
  long long bulk_length_ = -1;
  std::size_t position_ = 0;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;

  std::vector<std::string_view> args_;
  std::vector<std::string> inline_args_;  // unescaped inline arguments that args_ point to
  std::size_t consumed_ = 0;
  std::size_t needed_ = 0;
  std::string error_;
};

// Splits an inline request as Redis's sdssplitargs does (quotes, \xHH and \n-style escapes).
// False on unbalanced quotes.
[[nodiscard]] bool split_inline_args(std::string_view line, std::vector<std::string>& out);

}  // namespace lf
