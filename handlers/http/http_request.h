// Public. HttpRequest: one parsed HTTP/1.x request, as HttpParser delivers it. Its views point
// into the connection's input buffer (and into the parser), so a request is valid only inside
// the handler call that receives it: copy what you keep. Not thread safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace lf {

// The methods the router serves; any other method is answered 501 by the parser.
enum class HttpMethod : std::uint8_t { kGet, kHead, kPost, kPut, kDelete, kOptions, kCount };

// "GET", "HEAD", ...
[[nodiscard]] std::string_view to_string(HttpMethod method) noexcept;

struct HttpHeader {
  std::string_view name;
  std::string_view value;  // without surrounding spaces
};

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  int version_minor = 1;      // HTTP/1.<version_minor>: 0 or 1
  std::string_view target;    // as sent: "/a%20b?x=1" (or "http://h/a%20b?x=1")
  std::string_view raw_path;  // the path of the target, still percent-encoded
  std::string_view path;      // raw_path percent-decoded ("/a b")
  std::string_view query;     // after '?', without it ("x=1")
  // Host and port the request is for: the authority of an absolute-form target
  // ("GET http://h:8080/ HTTP/1.1"), which then also replaces the Host header's value, else the
  // Host header (RFC 9112 3.2.2); empty if neither.
  std::string_view host;
  std::vector<HttpHeader> headers;
  std::vector<HttpHeader> trailers;  // from a chunked body
  std::string_view body;             // de-chunked
  bool keep_alive = true;            // from the version and the Connection header

  // The value of the first header called `name` (case-insensitive), or empty.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
  [[nodiscard]] bool has_header(std::string_view name) const noexcept;
};

// ASCII case-insensitive equality, for header names and tokens.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace lf
