// Public. HttpParser: an incremental HTTP/1.0 and 1.1 request parser with no I/O, so it can be
// tested and fuzzed without sockets. Feed it the unconsumed input (the same bytes each time, plus
// whatever arrived since) until it reports a complete request or an error; it remembers how far
// it got, so each byte is examined about once. Header names and values are not copied: the
// request delivered holds views into the data passed to the last parse() call (and into the
// parser, for a de-chunked body). Not thread safe; one per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lf/handlers/http/http_request.h"

namespace lf {

struct HttpLimits {
  std::size_t max_header_bytes = 8 * 1024;   // request line + headers (and, apart, trailers): 431
  std::size_t max_body_bytes = 1024 * 1024;  // Content-Length or de-chunked size: 413
};

class HttpParser {
 public:
  enum class Status : std::uint8_t { kNeedMore, kComplete, kError };

  explicit HttpParser(HttpLimits limits = {}) noexcept : limits_(limits) {}

  // `data` starts at the first byte of the request being parsed; every call until kComplete or
  // kError passes the bytes of the previous call as its prefix. On kComplete `request` is filled
  // in and the request took consumed() bytes of `data`; call reset() before the next request.
  // After kError, error_status() is the status to answer before closing.
  [[nodiscard]] Status parse(std::string_view data, HttpRequest& request);

  [[nodiscard]] std::size_t consumed() const noexcept { return consumed_; }
  // 400 malformed, 413 body too large, 414/431 head too large, 501 method or transfer coding
  // not implemented, 505 version not supported.
  [[nodiscard]] int error_status() const noexcept { return error_; }
  // The header block is in: the body (if any) is being read.
  [[nodiscard]] bool headers_complete() const noexcept { return state_ >= State::kBody; }
  // The client sent "Expect: 100-continue" and waits for an interim answer before the body.
  [[nodiscard]] bool expects_continue() const noexcept { return expect_continue_; }
  // Valid once the request line is in.
  [[nodiscard]] int version_minor() const noexcept { return version_minor_; }
  // Some byte of a request (not just blank lines) has been seen.
  [[nodiscard]] bool started() const noexcept { return seen_ > start_; }

  // Ready for the next request; keeps the capacity of its storage.
  void reset() noexcept;

 private:
  enum class State : std::uint8_t {
    kRequestLine,
    kHeaders,
    kBody,
    kChunkSize,
    kChunkData,
    kTrailers,
    kDone,
    kError,
  };
  struct Span {  // offsets into the data, which may move between calls
    std::size_t offset = 0;
    std::size_t length = 0;
    [[nodiscard]] std::string_view in(std::string_view data) const noexcept {
      return data.substr(offset, length);
    }
  };
  struct Field {
    Span name;
    Span value;
  };

  Status fail(int status) noexcept;
  // The next complete line at pos_ (without CR LF), advancing pos_; false if none is complete
  // yet. Fails with `status` when the line would end beyond `limit` (an offset in the data).
  bool next_line(std::string_view data, std::size_t limit, int status, Span& line);
  // May the pending bytes of an unfinished line still become a valid one?
  [[nodiscard]] bool line_may_continue(std::string_view pending) const noexcept;
  bool parse_request_line(std::string_view data, Span line);
  // Sets authority_ from an absolute-form target; returns where its path starts in the
  // target, or 0 if it is not a valid http(s) URI.
  std::size_t parse_authority(std::string_view target, std::size_t target_offset);
  bool parse_field(std::string_view data, Span line, std::vector<Field>& fields);
  bool finish_headers(std::string_view data);
  bool parse_chunk_size(std::string_view line);
  Status complete(std::string_view data, HttpRequest& request);

  HttpLimits limits_;
  State state_ = State::kRequestLine;
  int error_ = 0;
  std::size_t start_ = 0;  // offset of the request line (blank lines before it are skipped)
  std::size_t pos_ = 0;    // the next byte to examine
  std::size_t consumed_ = 0;
  std::size_t seen_ = 0;  // size of the data last passed
  HttpMethod method_ = HttpMethod::kGet;
  int version_minor_ = 1;
  Span target_;
  Span raw_path_;
  Span query_;
  Span authority_;  // of an absolute-form target; empty for origin-form
  Span host_;       // authority_, or the Host header
  std::string path_;  // percent-decoded
  std::vector<Field> headers_;
  std::vector<Field> trailers_;
  std::size_t trailers_start_ = 0;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool chunked_ = false;
  std::uint64_t content_length_ = 0;
  std::size_t body_start_ = 0;
  std::uint64_t chunk_size_ = 0;
  std::string body_;  // de-chunked
};

}  // namespace lf
