// libFuzzer target: HttpParser. Parses the input as a stream of pipelined requests twice, once
// whole and once fed one byte at a time; both must give the same requests and the same error,
// never consume more than they were given, and (under ASan) never read outside the input. The
// parsers of header values the static files use (HTTP-dates, Host, entity-tag lists) get the
// whole input and every header value of the requests parsed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lf/handlers/http/http_date.h"
#include "lf/handlers/http/http_etag.h"
#include "lf/handlers/http/http_parser.h"
#include "lf/handlers/http/http_uri.h"

namespace {

// A request copied out of the views, so results of two runs can be compared.
struct Parsed {
  int method = 0;
  int version_minor = 0;
  std::string target, path, query, body;
  std::vector<std::string> headers;
  bool keep_alive = false;
  std::size_t consumed = 0;
  bool operator==(const Parsed&) const = default;
};

struct Outcome {
  std::vector<Parsed> requests;
  int error = 0;  // error_status() of the first error, 0 if none
  bool operator==(const Outcome&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

Parsed copy(const lf::HttpRequest& request, std::size_t consumed) {
  Parsed p;
  p.method = static_cast<int>(request.method);
  p.version_minor = request.version_minor;
  p.target = request.target;
  p.path = request.path;
  p.query = request.query;
  p.body = request.body;
  for (const auto& h : request.headers) p.headers.push_back(std::string(h.name) + ':' + std::string(h.value));
  for (const auto& h : request.trailers) p.headers.push_back(std::string(h.name) + '!' + std::string(h.value));
  p.keep_alive = request.keep_alive;
  p.consumed = consumed;
  return p;
}

// `step` bytes more per call (0: everything at once).
Outcome run(std::string_view input, lf::HttpLimits limits, std::size_t step) {
  Outcome out;
  lf::HttpParser parser(limits);
  std::size_t start = 0;
  std::size_t have = step == 0 ? input.size() : 0;
  while (start < input.size()) {
    if (step != 0) have = std::min(input.size() - start, have + step);
    // A copy of exactly the bytes given, so ASan sees any read past them.
    const std::string data(input.substr(start, have));
    lf::HttpRequest request;
    const auto status = parser.parse(data, request);
    if (status == lf::HttpParser::Status::kError) {
      out.error = parser.error_status();
      check(out.error >= 400 && out.error < 600);
      break;
    }
    if (status == lf::HttpParser::Status::kNeedMore) {
      if (have == input.size() - start) break;  // the input ends inside a request
      if (step == 0) break;
      continue;
    }
    const std::size_t consumed = parser.consumed();
    check(consumed > 0 && consumed <= data.size());
    check(request.body.size() <= limits.max_body_bytes);
    out.requests.push_back(copy(request, consumed));
    start += consumed;
    have = step == 0 ? input.size() - start : 0;
    parser.reset();
  }
  return out;
}

// A date that parses formats back to itself (within the years IMF-fixdate can show); a Host
// that validates holds none of the characters that end a host; a strong match is also a weak one.
void check_field_value(std::string_view value) {
  if (const auto date = lf::parse_http_date(value); date && *date >= 0 && *date < 253402300800) {
    check(lf::parse_http_date(lf::format_http_date(*date)) == date);
  }
  if (lf::is_valid_host(value)) check(value.find_first_of(" /?#@\r\n") == std::string_view::npos);
  const std::string etag = lf::weak_etag(static_cast<std::time_t>(value.size()), value.size());
  for (const std::string_view candidate : {std::string_view(etag), std::string_view("\"x\"")}) {
    if (lf::etag_list_matches(value, candidate, lf::EtagComparison::kStrong)) {
      check(lf::etag_list_matches(value, candidate, lf::EtagComparison::kWeak));
    }
    (void)lf::etag_matches(value, candidate, lf::EtagComparison::kWeak);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 16 * 1024) return 0;
  // The first byte picks the limits: small ones reach the 413/431 paths with small inputs.
  const bool small = (data[0] & 1) != 0;
  const lf::HttpLimits limits = small ? lf::HttpLimits{256, 512} : lf::HttpLimits{};
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = run(input, limits, 0);
  const Outcome bytewise = run(input, limits, 1);
  check(whole == bytewise);
  check_field_value(input);
  for (const Parsed& request : whole.requests) {
    for (const std::string& header : request.headers) {
      const std::size_t colon = header.find_first_of(":!");
      check_field_value(std::string_view(header).substr(colon + 1));
    }
  }
  return 0;
}
