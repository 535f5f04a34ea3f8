// Public. RespWriter: appends RESP2 replies to a Buffer (one Buffer per batch of pipelined
// commands, sent with one StreamConnection::send). Not thread safe.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

#include "lf/net/buffer.h"

namespace lf {

class RespWriter {
 public:
  explicit RespWriter(Buffer& out) noexcept : out_(out) {}

  // "+OK"
  void simple(std::string_view text) { line('+', text); }
  // `text` starts with the error code: "ERR syntax error", "WRONGTYPE ...".
  void error(std::string_view text) { line('-', text); }
  void integer(long long value) { number(':', value); }
  void bulk(std::string_view data) {
    number('$', static_cast<long long>(data.size()));
    out_.append(data);
    out_.append("\r\n");
  }
  void null() { out_.append("$-1\r\n"); }
  void null_array() { out_.append("*-1\r\n"); }  // EXEC after a WATCHed key changed
  void array(std::size_t count) { number('*', static_cast<long long>(count)); }
  void ok() { out_.append("+OK\r\n"); }

  [[nodiscard]] Buffer& buffer() noexcept { return out_; }

 private:
  void line(char type, std::string_view text) {
    out_.append(&type, 1);
    out_.append(text);
    out_.append("\r\n");
  }
  void number(char type, long long value) {
    char text[24];
    text[0] = type;
    const auto end = std::to_chars(text + 1, text + sizeof text - 2, value).ptr;
    end[0] = '\r';
    end[1] = '\n';
    out_.append(text, static_cast<std::size_t>(end + 2 - text));
  }

  Buffer& out_;
};

// Error replies worded as Redis 7 words them.
namespace kv_error {
inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kDbIndex = "ERR DB index is out of range";
inline constexpr std::string_view kNoProto = "NOPROTO unsupported protocol version";
inline constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kNoSuchKey = "ERR no such key";
inline constexpr std::string_view kTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
}  // namespace kv_error

}  // namespace lf
