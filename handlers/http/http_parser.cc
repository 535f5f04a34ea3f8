#include "lf/handlers/http/http_parser.h"

#include <algorithm>
#include <array>
#include <limits>

#include "lf/handlers/http/http_list.h"
#include "lf/handlers/http/http_number.h"
#include "lf/handlers/http/http_uri.h"

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

bool parse_method(std::string_view name, HttpMethod& method) noexcept {
  for (std::size_t i = 0; i < static_cast<std::size_t>(HttpMethod::kCount); ++i) {
    if (to_string(static_cast<HttpMethod>(i)) == name) {
      method = static_cast<HttpMethod>(i);
      return true;
    }
  }
  return false;
}

constexpr std::size_t kMaxChunkLine = 1024;  // size plus extensions

// False as soon as `bytes` (no LF in them) cannot begin a request line of the shape
// `token SP target SP HTTP/d.d` (RFC 9112 3), so that what is not HTTP (a TLS ClientHello, a bare
// CR) is refused when it arrives instead of at the header timeout (RFC 9112 2.2). A CR may only
// end the bytes of an incomplete line (`complete` false), before its LF, at the line's start (a
// blank line) or after the version. It accepts exactly what parse_request_line checks before
// the version and method are looked at, so a line gets the same status whole or in pieces.
bool could_be_request_line(std::string_view bytes, bool complete) noexcept {
  static constexpr std::string_view kVersionShape = "HTTP/0.0";  // 0: a digit
  enum class Part : std::uint8_t { kMethod, kTarget, kVersion } part = Part::kMethod;
  std::size_t part_length = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\r') {
      const bool at_end_of_line = part == Part::kVersion && part_length == kVersionShape.size();
      return !complete && i + 1 == bytes.size() && (i == 0 || at_end_of_line);
    }
    if (c == ' ' && part != Part::kVersion && part_length > 0) {
      part = part == Part::kMethod ? Part::kTarget : Part::kVersion;
      part_length = 0;
      continue;
    }
    bool fits = false;
    if (part == Part::kMethod) {
      fits = is_tchar(c);
    } else if (part == Part::kTarget) {
      fits = !is_ctl(c) && c != ' ';
    } else if (part_length < kVersionShape.size()) {
      const char expected = kVersionShape[part_length];
      fits = expected == '0' ? (c >= '0' && c <= '9') : c == expected;
    }
    if (!fits) return false;
    ++part_length;
  }
  return true;
}

// False if `bytes` (no LF in them) hold a CR followed by something else than LF (RFC 9112 2.2).
bool has_no_bare_cr(std::string_view bytes) noexcept {
  const std::size_t cr = bytes.find('\r');
  return cr == std::string_view::npos || cr + 1 == bytes.size();
}

// "http://" or "https://" (any case) at the start of an absolute-form target: its length, or 0.
std::size_t http_scheme_length(std::string_view target) noexcept {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      return scheme.size();
    }
  }
  return 0;
}

// The Transfer-Encoding codings of a request, over all its Transfer-Encoding lines.
struct TransferCodings {
  bool present = false;
  bool last_is_chunked = false;
  int chunked = 0;
  bool unknown = false;

  void add(std::string_view list) {
    present = true;
    for_each_list_element(list, [&](std::string_view coding) {
      last_is_chunked = iequals(coding, "chunked");
      if (last_is_chunked) {
        ++chunked;
      } else {
        unknown = true;
      }
    });
  }
  // 0 if the body is chunked and nothing else, else the status to answer: a body that cannot
  // be delimited is 400 (RFC 9112 6.3: chunked must be last, and only once, 6.1), a coding
  // this server does not decode 501 (6.1).
  [[nodiscard]] int error() const noexcept {
    if (!last_is_chunked || chunked > 1) return 400;
    return unknown ? 501 : 0;
  }
};

}  // namespace

void HttpParser::reset() noexcept {
  state_ = State::kRequestLine;
  error_ = 0;
  start_ = pos_ = consumed_ = seen_ = 0;
  path_.clear();
  authority_ = host_ = Span{};
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
    // Bytes that can no longer make a line are refused now, not when the limit or the header
    // timeout is reached; checked up to the limit only, so the answer is the same whatever the
    // reads were.
    if (!line_may_continue(data.substr(pos_, search_end - pos_))) {
      fail(400);
    } else if (data.size() >= limit) {
      fail(status);
    }
    return false;
  }
  std::size_t end = lf;
  if (end > pos_ && data[end - 1] == '\r') --end;
  line = Span{pos_, end - pos_};
  pos_ = lf + 1;
  if (state_ == State::kRequestLine && !could_be_request_line(line.in(data), true)) {
    fail(400);
    return false;
  }
  return true;
}

bool HttpParser::line_may_continue(std::string_view pending) const noexcept {
  return state_ == State::kRequestLine ? could_be_request_line(pending, false)
                                       : has_no_bare_cr(pending);
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
  std::size_t origin = 0;  // where the path (origin-form's part) starts in the target
  if (target.front() != '/') {
    origin = parse_authority(target, target_offset);
    if (origin == 0) return fail(400), false;
  }
  const std::string_view path_and_query = target.substr(origin);
  const std::size_t question = path_and_query.find('?');
  const std::size_t path_length =
      question == std::string_view::npos ? path_and_query.size() : question;
  const std::size_t path_offset = target_offset + origin;
  raw_path_ = Span{path_offset, path_length};
  query_ = question == std::string_view::npos
               ? Span{path_offset + path_and_query.size(), 0}
               : Span{path_offset + question + 1, path_and_query.size() - question - 1};
  path_.clear();
  if (path_length == 0) path_.push_back('/');  // "http://host" and "http://host?q"
  if (!percent_decode(path_and_query.substr(0, path_length), path_)) return fail(400), false;
  return true;
}

std::size_t HttpParser::parse_authority(std::string_view target, std::size_t target_offset) {
  // RFC 9112 3.2.2: absolute-form, as sent to proxies; an origin server must accept it too. Only
  // the http and https schemes name something this server could serve.
  const std::size_t begin = http_scheme_length(target);
  if (begin == 0) return 0;
  const std::size_t end = std::min(target.find_first_of("/?", begin), target.size());
  const std::string_view authority = target.substr(begin, end - begin);
  // RFC 9110 4.2.1: no empty host, and userinfo is an error (is_valid_host refuses its '@').
  if (authority.empty() || authority.front() == ':' || !is_valid_host(authority)) return 0;
  authority_ = Span{target_offset + begin, authority.size()};
  return end;
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
  const std::string_view value = trim_ows(raw_value);
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
  TransferCodings codings;
  Field* host = nullptr;
  int hosts = 0;
  for (Field& field : headers_) {
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
      codings.add(value);
    } else if (iequals(name, "Connection")) {
      for_each_list_element(value, [&](std::string_view token) {
        close = close || iequals(token, "close");
        keep_alive = keep_alive || iequals(token, "keep-alive");
      });
    } else if (iequals(name, "Expect")) {
      expect_continue_ = iequals(value, "100-continue");
    } else if (iequals(name, "Host")) {
      if (!is_valid_host(value)) return fail(400), false;  // RFC 9112 3.2
      host = &field;
      ++hosts;
    }
  }
  if (codings.present) {
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (version_minor_ == 0) return fail(400), false;
    if (const int status = codings.error(); status != 0) return fail(status), false;
    chunked_ = true;
  }
  // Both framings at once is how requests are smuggled past proxies (RFC 9112 6.1): refused.
  if (chunked_ && has_length) return fail(400), false;
  if (version_minor_ == 1 && hosts != 1) return fail(400), false;  // RFC 9112 3.2
  if (hosts > 1) return fail(400), false;
  // RFC 9112 3.2.2: the authority of an absolute-form target replaces Host.
  if (authority_.length > 0) {
    if (host != nullptr) host->value = authority_;
    host_ = authority_;
  } else if (host != nullptr) {
    host_ = host->value;
  }
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
  const std::string_view digits = trim_ows(line.substr(0, end));
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
  if (raw_path_.length == 0) request.raw_path = "/";  // absolute-form without a path
  request.host = host_.in(data);
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
