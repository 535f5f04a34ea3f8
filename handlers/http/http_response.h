// Public. HttpResponse: what a route handler fills in (status, headers, a body held in memory or
// a file range sent with sendfile), and its serialisation into a response head. The connection
// adds Server, Date, Content-Length and Connection itself. Not thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lf/base/unique_fd.h"

namespace lf {

class HttpResponse {
 public:
  HttpResponse() = default;

  void set_status(int status) noexcept { status_ = status; }
  [[nodiscard]] int status() const noexcept { return status_; }

  // Adds a header line (several with one name are allowed). Do not set Content-Length, Date,
  // Server or Connection: the connection writes those.
  void add_header(std::string name, std::string value);
  // The value of the first header called `name` (case-insensitive), or empty.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
  // Without one, a non-empty body goes out as "text/plain; charset=utf-8".
  void set_content_type(std::string type) { content_type_ = std::move(type); }
  [[nodiscard]] const std::string& content_type() const noexcept { return content_type_; }

  // The body, held in memory.
  void set_body(std::string body) { body_ = std::move(body); }
  void set_body(std::string body, std::string content_type) {
    body_ = std::move(body);
    content_type_ = std::move(content_type);
  }
  [[nodiscard]] std::string& body() noexcept { return body_; }
  [[nodiscard]] const std::string& body() const noexcept { return body_; }

  // The body is `length` bytes of `file` from `offset`, sent with sendfile(2) (replaces any
  // in-memory body).
  void set_file(UniqueFd file, std::uint64_t offset, std::uint64_t length);
  [[nodiscard]] bool has_file() const noexcept { return file_.valid(); }
  [[nodiscard]] UniqueFd take_file() noexcept { return std::move(file_); }
  [[nodiscard]] std::uint64_t file_offset() const noexcept { return file_offset_; }

  // Bytes of body this response announces (the file range, or the in-memory body).
  [[nodiscard]] std::uint64_t content_length() const noexcept {
    return file_.valid() ? file_length_ : body_.size();
  }
  // Ask the connection to close after this response.
  void set_close() noexcept { close_ = true; }
  [[nodiscard]] bool close_requested() const noexcept { return close_; }

  // A plain-text error page for `status` ("404 Not Found\n").
  void set_error(int status);

  // Appends the status line and headers, with the framing headers: Content-Length (unless the
  // status forbids a body), "Connection: close" when `keep_alive` is false, and "Connection:
  // keep-alive" for an HTTP/1.0 client kept open.
  void write_head(std::string& out, bool keep_alive, int request_version_minor) const;

 private:
  int status_ = 200;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string content_type_;
  std::string body_;
  UniqueFd file_;
  std::uint64_t file_offset_ = 0;
  std::uint64_t file_length_ = 0;
  bool close_ = false;
};

// "OK", "Not Found", ...; "Unknown" for a code it does not know.
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

}  // namespace lf
