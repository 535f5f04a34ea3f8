#include "lf/handlers/kv/resp_parser.h"

#include <algorithm>
#include <utility>

#include "lf/handlers/kv/integer_text.h"

namespace lf {
namespace {

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Redis replaces CR and LF in error texts by spaces: a reply must stay on one line.
std::string one_line(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return text;
}

}  // namespace

bool split_inline_args(std::string_view line, std::vector<std::string>& out) {
  out.clear();
  // A C string in Redis: past the end, and at an embedded NUL, parsing stops.
  const auto at = [line](std::size_t i) { return i < line.size() ? line[i] : '\0'; };
  std::size_t p = 0;
  for (;;) {
    while (at(p) != '\0' && is_space(at(p))) ++p;
    if (at(p) == '\0') return true;
    std::string current;
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(p);
      if (in_double) {
        if (c == '\\' && at(p + 1) == 'x' && hex_value(at(p + 2)) >= 0 && hex_value(at(p + 3)) >= 0) {
          current.push_back(static_cast<char>(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (at(p)) {
            case 'n': current.push_back('\n'); break;
            case 'r': current.push_back('\r'); break;
            case 't': current.push_back('\t'); break;
            case 'b': current.push_back('\b'); break;
            case 'a': current.push_back('\a'); break;
            default: current.push_back(at(p)); break;
          }
        } else if (c == '"') {
          // The closing quote must be followed by a space or nothing at all.
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // unterminated quotes
        } else {
          current.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        switch (c) {
          case ' ': case '\n': case '\r': case '\t': case '\0': done = true; break;
          case '"': in_double = true; break;
          case '\'': in_single = true; break;
          default: current.push_back(c); break;
        }
      }
      if (at(p) != '\0') ++p;
    }
    out.push_back(std::move(current));
  }
}

RespParser::Status RespParser::parse(std::string_view input) {
  args_.clear();
  consumed_ = 0;
  needed_ = 0;
  if (multibulk_left_ == 0 && bulk_length_ == -1 && position_ == 0) {
    if (input.empty()) return Status::kNeedMore;
    if (input[0] != '*') return parse_inline(input);
  }
  return parse_multibulk(input);
}

RespParser::Status RespParser::parse_inline(std::string_view input) {
  const std::size_t newline = input.find('\n');
  // The limit applies to the line whether or not its end has arrived, so the outcome does not
  // depend on how the bytes were split into reads (found by tests/fuzz/resp_parser_fuzz).
  if (std::min(newline, input.size()) > limits_.max_inline_length) {
    return fail("Protocol error: too big inline request");
  }
  if (newline == std::string_view::npos) return Status::kNeedMore;
  std::size_t length = newline;
  if (length > 0 && input[length - 1] == '\r') --length;
  if (!split_inline_args(input.substr(0, length), inline_args_)) {
    return fail("Protocol error: unbalanced quotes in request");
  }
  for (const std::string& arg : inline_args_) args_.emplace_back(arg);
  consumed_ = newline + 1;
  return Status::kCommand;
}

RespParser::Status RespParser::parse_multibulk(std::string_view input) {
  if (multibulk_left_ == 0) {
    // "*<count>\r\n". Like Redis, we look for the CR and take the byte after it as the LF.
    const std::size_t cr = input.find('\r');
    if (std::min(cr, input.size()) > limits_.max_inline_length) {
      return fail("Protocol error: too big mbulk count string");
    }
    if (cr == std::string_view::npos) return Status::kNeedMore;
    if (cr + 1 >= input.size()) return Status::kNeedMore;
    long long count = 0;
    if (!parse_integer(input.substr(1, cr - 1), count) ||
        count > static_cast<long long>(limits_.max_multibulk_length)) {
      return fail("Protocol error: invalid multibulk length");
    }
    position_ = cr + 2;
    if (count <= 0) return complete(position_);  // "*0" and "*-1" are skipped
    multibulk_left_ = count;
    // The count comes from the peer: grow with the arguments that really arrive.
    spans_.reserve(static_cast<std::size_t>(std::min(count, 1024LL)));
  }
  while (multibulk_left_ > 0) {
    if (bulk_length_ == -1) {
      const std::size_t cr = input.find('\r', position_);
      if (std::min(cr, input.size()) - position_ > limits_.max_inline_length) {
        return fail("Protocol error: too big bulk count string");
      }
      if (cr == std::string_view::npos) break;
      if (cr + 1 >= input.size()) break;
      if (input[position_] != '$') {
        return fail(std::string("Protocol error: expected '$', got '") + input[position_] + "'");
      }
      long long length = 0;
      if (!parse_integer(input.substr(position_ + 1, cr - position_ - 1), length) || length < 0 ||
          static_cast<unsigned long long>(length) > limits_.max_bulk_length) {
        return fail("Protocol error: invalid bulk length");
      }
      position_ = cr + 2;
      bulk_length_ = length;
    }
    const auto length = static_cast<std::size_t>(bulk_length_);
    if (input.size() - position_ < length + 2) break;
    spans_.emplace_back(position_, length);
    position_ += length + 2;  // Redis does not check the CRLF after the data either
    bulk_length_ = -1;
    --multibulk_left_;
  }
  if (multibulk_left_ > 0) {
    needed_ = position_ + (bulk_length_ >= 0 ? static_cast<std::size_t>(bulk_length_) + 2 : 0);
    return Status::kNeedMore;
  }
  args_.reserve(spans_.size());
  for (const auto& [offset, length] : spans_) args_.push_back(input.substr(offset, length));
  return complete(position_);
}

RespParser::Status RespParser::complete(std::size_t consumed) {
  consumed_ = consumed;
  reset_pending();
  return Status::kCommand;
}

RespParser::Status RespParser::fail(std::string message) {
  error_ = one_line(std::move(message));
  reset_pending();
  args_.clear();
  return Status::kError;
}

void RespParser::reset_pending() noexcept {
  multibulk_left_ = 0;
  bulk_length_ = -1;
  position_ = 0;
  spans_.clear();
}

}  // namespace lf
