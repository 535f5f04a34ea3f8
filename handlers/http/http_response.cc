#include "lf/handlers/http/http_response.h"

#include <charconv>

#include "lf/handlers/http/http_date.h"
#include "lf/handlers/http/http_request.h"

namespace lf {
namespace {

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void HttpResponse::add_header(std::string name, std::string value) {
  headers_.emplace_back(std::move(name), std::move(value));
}

std::string_view HttpResponse::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers_) {
    if (iequals(n, name)) return v;
  }
  return {};
}

void HttpResponse::set_file(UniqueFd file, std::uint64_t offset, std::uint64_t length) {
  file_ = std::move(file);
  file_offset_ = offset;
  file_length_ = length;
  body_.clear();
}

void HttpResponse::set_error(int status) {
  status_ = status;
  body_.clear();
  append_number(body_, static_cast<std::uint64_t>(status));
  body_.push_back(' ');
  body_.append(reason_phrase(status));
  body_.push_back('\n');
  content_type_ = "text/plain; charset=utf-8";
  file_.reset();
}

void HttpResponse::write_head(std::string& out, bool keep_alive, int request_version_minor) const {
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::uint64_t>(status_));
  out.push_back(' ');
  out.append(reason_phrase(status_));
  out.append("\r\nServer: lf\r\nDate: ");
  out.append(http_date_now());
  out.append("\r\n");
  // 1xx, 204 and 304 carry no body and no framing (RFC 9110 8.6).
  const bool bodyless = status_ < 200 || status_ == 204 || status_ == 304;
  if (!bodyless) {
    if (!content_type_.empty()) {
      append_header(out, "Content-Type", content_type_);
    } else if (content_length() > 0) {
      append_header(out, "Content-Type", "text/plain; charset=utf-8");  // a handler's default
    }
    out.append("Content-Length: ");
    append_number(out, content_length());
    out.append("\r\n");
  }
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (request_version_minor == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  for (const auto& [name, value] : headers_) append_header(out, name, value);
  out.append("\r\n");
}

}  // namespace lf
