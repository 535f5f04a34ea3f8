#include "http/http_parser.h"

#include <algorithm>
#include <array>
#include <limits>

#include "http/http_number.h"
#include "http/http_uri.h"

namespace lf {
namespace {

// RFC 9110 tchar: the characters of a token (method, header name).
bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool is_ctl(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_method(std::string_view name, HttpMethod& method) noexcept {
  for (std::size_t i = 0; i < static_cast<std::size_t>(HttpMethod::kCount); ++i) {
    if (to_string(static_cast<HttpMethod>(i)) == name) {
      method = static_cast<HttpMethod>(i);
      return true;
    }
  }
  return false;
}

// Calls f(token) for each comma-separated, trimmed, non-empty element of a list header.
template <typename F>
void for_each_token(std::string_view list, F f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view token = trim(list.substr(0, comma));
    if (!token.empty()) f(token);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

constexpr std::size_t kMaxChunkLine = 1024;  // size plus extensions

}  // namespace

void HttpParser::reset() noexcept {
  state_ = State::kRequestLine;
  error_ = 0;
  start_ = pos_ = consumed_ = seen_ = 0;
  path_.clear();
  headers_.clear();
  trailers_.clear();
  keep_alive_ = true;
  expect_continue_ = false;
  chunked_ = false;
  content_length_ = 0;
  chunk_size_ = 0;
  body_.clear();
}

HttpParser::Status HttpParser::fail(int status) noexcept {
  state_ = State::kError;
  error_ = status;
  return Status::kError;
}

bool HttpParser::next_line(std::string_view data, std::size_t limit, int status, Span& line) {
  const std::size_t search_end = std::min(data.size(), limit);
  const std::size_t lf = data.substr(0, search_end).find('\n', pos_);
  if (lf == std::string_view::npos) {
    if (data.size() >= limit) fail(status);
    return false;
  }
  std::size_t end = lf;
  if (end > pos_ && data[end - 1] == '\r') --end;
  line = Span{pos_, end - pos_};
  pos_ = lf + 1;
  return true;
}

HttpParser::Status HttpParser::parse(std::string_view data, HttpRequest& request) {
  seen_ = data.size();
  while (true) {
    switch (state_) {
      case State::kRequestLine:
      case State::kHeaders: {
        Span line;
        const int status = state_ == State::kRequestLine ? 414 : 431;
        if (!next_line(data, limits_.max_header_bytes, status, line)) {
          return state_ == State::kError ? Status::kError : Status::kNeedMore;
        }
        if (state_ == State::kRequestLine) {
          if (line.length == 0) {  // RFC 9112 2.2: ignore blank lines before a request
            start_ = pos_;
            continue;
          }
          if (!parse_request_line(data, line)) return Status::kError;
          state_ = State::kHeaders;
        } else if (line.length == 0) {
          if (!finish_headers(data)) return Status::kError;
        } else if (!parse_field(data, line, headers_)) {
          return Status::kError;
        }
        break;
      }
      case State::kBody:
        if (data.size() - body_start_ < content_length_) return Status::kNeedMore;
        consumed_ = body_start_ + static_cast<std::size_t>(content_length_);
        return complete(data, request);
      case State::kChunkSize: {
        Span line;
        if (!next_line(data, pos_ + kMaxChunkLine, 400, line)) {
          return state_ == State::kError ? Status::kError : Status::kNeedMore;
        }
        if (!parse_chunk_size(line.in(data))) return Status::kError;
        break;
      }
      case State::kChunkData: {
        const auto size = static_cast<std::size_t>(chunk_size_);
        if (data.size() - pos_ < size + 2) return Status::kNeedMore;
        if (data.substr(pos_ + size, 2) != "\r\n") return fail(400);
        body_.append(data.substr(pos_, size));
        pos_ += size + 2;
        state_ = State::kChunkSize;
        break;
      }
      case State::kTrailers: {
        Span line;
        if (!next_line(data, trailers_start_ + limits_.max_header_bytes, 431, line)) {
          return state_ == State::kError ? Status::kError : Status::kNeedMore;
        }
        if (line.length == 0) {
          consumed_ = pos_;
          return complete(data, request);
        }
        if (!parse_field(data, line, trailers_)) return Status::kError;
        break;
      }
      case State::kDone:
        return complete(data, request);
      case State::kError:
        return Status::kError;
    }
  }
}

bool HttpParser::parse_request_line(std::string_view data, Span line) {
  const std::string_view text = line.in(data);
  const std::size_t sp1 = text.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : text.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || text.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400), false;
  }
  const std::string_view method = text.substr(0, sp1);
  const std::string_view target = text.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = text.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) return fail(400), false;
  if (std::any_of(target.begin(), target.end(), [](char c) { return is_ctl(c) || c == ' '; })) {
    return fail(400), false;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(400), false;
  }
  if (version[5] != '1') return fail(505), false;
  version_minor_ = version[7] == '0' ? 0 : 1;  // 1.2 and later speak 1.1 (RFC 9110 6.2)
  if (!parse_method(method, method_)) return fail(501), false;

  const std::size_t target_offset = line.offset + sp1 + 1;
  target_ = Span{target_offset, target.size()};
  if (target == "*") {
    if (method_ != HttpMethod::kOptions) return fail(400), false;
    raw_path_ = target_;
    query_ = Span{target_offset + target.size(), 0};
    path_.assign(1, '*');  // not = "*": GCC 12 -O2 reports a false -Wrestrict
    return true;
  }
  if (target.front() != '/') return fail(400), false;  // origin-form only
  const std::size_t question = target.find('?');
  const std::size_t path_length = question == std::string_view::npos ? target.size() : question;
  raw_path_ = Span{target_offset, path_length};
  query_ = question == std::string_view::npos
               ? Span{target_offset + target.size(), 0}
               : Span{target_offset + question + 1, target.size() - question - 1};
  path_.clear();
  if (!percent_decode(target.substr(0, path_length), path_)) return fail(400), false;
  return true;
}

bool HttpParser::parse_field(std::string_view data, Span line, std::vector<Field>& fields) {
  const std::string_view text = line.in(data);
  // A line starting with white space would continue the previous one (obs-fold): refused, as
  // RFC 9112 5.2 allows, since folding is a classic request-smuggling vector.
  if (text.front() == ' ' || text.front() == '\t') return fail(400), false;
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || !is_token(text.substr(0, colon))) {
    return fail(400), false;
  }
  const std::string_view raw_value = text.substr(colon + 1);
  const std::string_view value = trim(raw_value);
  if (std::any_of(value.begin(), value.end(), [](char c) { return is_ctl(c) && c != '\t'; })) {
    return fail(400), false;
  }
  const std::size_t value_offset =
      line.offset + colon + 1 + static_cast<std::size_t>(value.data() - raw_value.data());
  fields.push_back(Field{Span{line.offset, colon}, Span{value_offset, value.size()}});
  return true;
}

bool HttpParser::finish_headers(std::string_view data) {
  bool close = false;
  bool keep_alive = false;
  bool has_length = false;
  int hosts = 0;
  for (const Field& field : headers_) {
    const std::string_view name = field.name.in(data);
    const std::string_view value = field.value.in(data);
    if (iequals(name, "Content-Length")) {
      std::uint64_t length = 0;
      // Differing lengths mean the message cannot be framed safely.
      if (!parse_http_decimal(value, length) || (has_length && length != content_length_)) {
        return fail(400), false;
      }
      has_length = true;
      content_length_ = length;
    } else if (iequals(name, "Transfer-Encoding")) {
      if (chunked_ || !iequals(value, "chunked")) return fail(chunked_ ? 400 : 501), false;
      chunked_ = true;
    } else if (iequals(name, "Connection")) {
      for_each_token(value, [&](std::string_view token) {
        close = close || iequals(token, "close");
        keep_alive = keep_alive || iequals(token, "keep-alive");
      });
    } else if (iequals(name, "Expect")) {
      expect_continue_ = iequals(value, "100-continue");
    } else if (iequals(name, "Host")) {
      ++hosts;
    }
  }
  // Both framings at once is how requests are smuggled past proxies (RFC 9112 6.1): refused.
  if (chunked_ && has_length) return fail(400), false;
  if (version_minor_ == 1 && hosts != 1) return fail(400), false;  // RFC 9112 3.2
  if (hosts > 1) return fail(400), false;
  keep_alive_ = !close && (version_minor_ == 1 || keep_alive);
  if (content_length_ > limits_.max_body_bytes) return fail(413), false;
  if (chunked_) {
    state_ = State::kChunkSize;
  } else {
    body_start_ = pos_;
    state_ = State::kBody;
  }
  return true;
}

bool HttpParser::parse_chunk_size(std::string_view line) {
  const std::size_t end = std::min(line.find(';'), line.size());
  const std::string_view digits = trim(line.substr(0, end));
  if (digits.empty() || digits.size() > 16) return fail(400), false;
  std::uint64_t size = 0;
  for (char c : digits) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return fail(400), false;
    size = size * 16 + static_cast<std::uint64_t>(digit);
  }
  if (size > limits_.max_body_bytes || body_.size() + size > limits_.max_body_bytes) {
    return fail(413), false;
  }
  if (size == 0) {
    trailers_start_ = pos_;
    state_ = State::kTrailers;
  } else {
    chunk_size_ = size;
    state_ = State::kChunkData;
  }
  return true;
}

HttpParser::Status HttpParser::complete(std::string_view data, HttpRequest& request) {
  state_ = State::kDone;
  request.method = method_;
  request.version_minor = version_minor_;
  request.target = target_.in(data);
  request.raw_path = raw_path_.in(data);
  request.path = path_;
  request.query = query_.in(data);
  request.keep_alive = keep_alive_;
  request.headers.clear();
  for (const Field& f : headers_) request.headers.push_back({f.name.in(data), f.value.in(data)});
  request.trailers.clear();
  for (const Field& f : trailers_) request.trailers.push_back({f.name.in(data), f.value.in(data)});
  request.body = chunked_ ? std::string_view(body_)
                          : data.substr(body_start_, static_cast<std::size_t>(content_length_));
  return Status::kComplete;
}

}  // namespace lf
