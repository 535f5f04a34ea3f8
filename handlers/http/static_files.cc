#include "lf/handlers/http/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <system_error>

#include "lf/base/unique_fd.h"
#include "lf/handlers/http/http_date.h"
#include "lf/handlers/http/http_etag.h"
#include "lf/handlers/http/http_list.h"
#include "lf/handlers/http/http_number.h"
#include "lf/handlers/http/mime_types.h"

namespace lf {
namespace {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

enum class RangeResult : std::uint8_t { kNone, kRange, kUnsatisfiable };

// One range-spec: "a-b", "a-" or "-n" (RFC 9110 14.1.2), clipped to the file; kNone if malformed.
RangeResult parse_range_spec(std::string_view spec, std::uint64_t size, ByteRange& range) {
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeResult::kNone;
  const std::string_view first = spec.substr(0, dash);
  const std::string_view last = spec.substr(dash + 1);
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (first.empty()) {  // the last n bytes
    if (!parse_http_decimal(last, b)) return RangeResult::kNone;
    if (b == 0 || size == 0) return RangeResult::kUnsatisfiable;
    range = ByteRange{b >= size ? 0 : size - b, size - 1};
    return RangeResult::kRange;
  }
  if (!parse_http_decimal(first, a)) return RangeResult::kNone;
  if (last.empty()) {
    b = size == 0 ? 0 : size - 1;
  } else if (!parse_http_decimal(last, b) || b < a) {
    return RangeResult::kNone;
  }
  if (a >= size) return RangeResult::kUnsatisfiable;
  range = ByteRange{a, std::min(b, size - 1)};
  return RangeResult::kRange;
}

// A Range header: "bytes=" and a list of range-specs (RFC 9110 14.1.1). One satisfiable range
// is served (206); several are not: the whole file is sent (200), as RFC 9110 14.2 allows,
// rather than a multipart/byteranges body; none satisfiable is 416. A malformed header is
// ignored (the whole file is sent).
RangeResult parse_range(std::string_view header, std::uint64_t size, ByteRange& range) {
  static constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size() || !iequals(header.substr(0, kUnit.size()), kUnit)) {
    return RangeResult::kNone;
  }
  bool malformed = false;
  int specs = 0;
  int satisfiable = 0;
  for_each_list_element(header.substr(kUnit.size()), [&](std::string_view spec) {
    ++specs;
    switch (parse_range_spec(spec, size, range)) {
      case RangeResult::kNone:
        malformed = true;
        break;
      case RangeResult::kRange:
        ++satisfiable;
        break;
      case RangeResult::kUnsatisfiable:
        break;
    }
  });
  if (malformed || specs == 0 || satisfiable > 1) return RangeResult::kNone;
  return satisfiable == 1 ? RangeResult::kRange : RangeResult::kUnsatisfiable;
}

enum class Precondition : std::uint8_t { kPass, kNotModified, kFailed };

// RFC 9110 13.2.2: If-Match (strong comparison), else If-Unmodified-Since; then If-None-Match
// (weak comparison), else If-Modified-Since. A date that does not parse is ignored.
Precondition evaluate_preconditions(const HttpRequest& request, std::string_view etag,
                                    std::time_t mtime) {
  if (request.has_header("If-Match")) {
    if (!etag_list_matches(request.header("If-Match"), etag, EtagComparison::kStrong)) {
      return Precondition::kFailed;
    }
  } else if (const auto since = parse_http_date(request.header("If-Unmodified-Since"));
             since && mtime > *since) {
    return Precondition::kFailed;
  }
  const bool read_only = request.method == HttpMethod::kGet || request.method == HttpMethod::kHead;
  if (request.has_header("If-None-Match")) {
    if (etag_list_matches(request.header("If-None-Match"), etag, EtagComparison::kWeak)) {
      return read_only ? Precondition::kNotModified : Precondition::kFailed;
    }
  } else if (const auto since = parse_http_date(request.header("If-Modified-Since"));
             read_only && since && mtime <= *since) {
    return Precondition::kNotModified;
  }
  return Precondition::kPass;
}

// RFC 9110 13.1.5: the Range applies if If-Range is absent, or is an entity-tag matching the
// current one by strong comparison (never true for a weak ETag), or the exact Last-Modified
// date.
bool if_range_holds(const HttpRequest& request, std::string_view etag, std::time_t mtime) {
  if (!request.has_header("If-Range")) return true;
  const std::string_view if_range = request.header("If-Range");
  if (if_range.starts_with('"') || if_range.starts_with("W/")) {
    return etag_matches(if_range, etag, EtagComparison::kStrong);
  }
  const auto date = parse_http_date(if_range);
  return date && *date == mtime;
}

bool has_dot_dot_segment(std::string_view path) noexcept {
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    if (path.substr(0, slash) == "..") return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

bool has_encoded_slash(std::string_view raw) noexcept {
  for (std::size_t i = 0; i + 2 < raw.size(); ++i) {
    if (raw[i] == '%' && raw[i + 1] == '2' && (raw[i + 2] == 'f' || raw[i + 2] == 'F')) {
      return true;
    }
  }
  return false;
}

std::string real_path(const std::string& path, int& error) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) {
    error = errno;
    return {};
  }
  error = 0;
  return buffer;
}

}  // namespace

StaticFiles::StaticFiles(const std::string& root) {
  int error = 0;
  root_ = real_path(root, error);
  struct stat st {};
  if (error == 0 && ::stat(root_.c_str(), &st) != 0) error = errno;
  if (error == 0 && !S_ISDIR(st.st_mode)) error = ENOTDIR;
  if (error != 0) throw std::system_error(error, std::generic_category(), "static root " + root);
}

int StaticFiles::resolve(const std::string& path, std::string& resolved) const {
  int error = 0;
  resolved = real_path(path, error);
  if (error != 0) return error == EACCES ? 403 : 404;
  const bool inside = resolved == root_ || root_ == "/" ||
                      (resolved.starts_with(root_) && resolved[root_.size()] == '/');
  return inside ? 0 : 403;
}

void StaticFiles::serve(const HttpRequest& request, HttpResponse& response) const {
  const std::string_view path = request.path;
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string_view::npos ||
      has_dot_dot_segment(path) || has_encoded_slash(request.raw_path)) {
    return response.set_error(403);
  }
  std::string resolved;
  if (const int status = resolve(root_ + std::string(path), resolved); status != 0) {
    return response.set_error(status);
  }
  // O_NOFOLLOW: the resolved path has no links left, unless one was swapped in meanwhile.
  UniqueFd file(::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0)
    return response.set_error(errno == EACCES ? 403 : 404);
  if (S_ISDIR(st.st_mode)) {
    if (!path.ends_with('/')) {  // relative links in the index need the slash
      response.set_error(301);
      std::string location(request.raw_path);
      location.push_back('/');
      if (!request.query.empty()) location.append("?").append(request.query);
      response.add_header("Location", std::move(location));
      return;
    }
    if (const int status = resolve(resolved + "/index.html", resolved); status != 0) {
      return response.set_error(status);
    }
    file.reset(::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!file || ::fstat(file.get(), &st) != 0) return response.set_error(404);
  }
  if (!S_ISREG(st.st_mode)) return response.set_error(404);

  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string etag = weak_etag(st.st_mtime, size);
  response.set_content_type(std::string(mime_type_for(resolved)));
  response.add_header("Last-Modified", format_http_date(st.st_mtime));
  response.add_header("ETag", etag);
  response.add_header("Accept-Ranges", "bytes");

  switch (evaluate_preconditions(request, etag, st.st_mtime)) {
    case Precondition::kNotModified:
      return response.set_status(304);
    case Precondition::kFailed:
      return response.set_error(412);
    case Precondition::kPass:
      break;
  }
  // Only GET has range semantics (RFC 9110 14.2): HEAD answers what a plain GET would.
  ByteRange range;
  const RangeResult result = request.method == HttpMethod::kGet &&
                                     request.has_header("Range") &&
                                     if_range_holds(request, etag, st.st_mtime)
                                 ? parse_range(request.header("Range"), size, range)
                                 : RangeResult::kNone;
  if (result == RangeResult::kUnsatisfiable) {
    response.set_error(416);
    response.add_header("Content-Range", "bytes */" + std::to_string(size));
    return;
  }
  if (result == RangeResult::kRange) {
    response.set_status(206);
    response.add_header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                             std::to_string(range.last) + "/" +
                                             std::to_string(size));
    response.set_file(std::move(file), range.first, range.last - range.first + 1);
    return;
  }
  response.set_status(200);
  response.set_file(std::move(file), 0, size);
}

}  // namespace lf
