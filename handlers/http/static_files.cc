#include "http/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <system_error>

#include "http/http_date.h"
#include "http/http_number.h"
#include "http/mime_types.h"
#include "lf/unique_fd.h"

namespace lf {
namespace {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

enum class RangeResult : std::uint8_t { kNone, kRange, kUnsatisfiable };

// One "bytes=a-b", "bytes=a-" or "bytes=-n" range. A malformed header or several ranges are
// ignored (the whole file is sent), as RFC 9110 14.2 allows.
RangeResult parse_range(std::string_view header, std::uint64_t size, ByteRange& range) {
  if (!header.starts_with("bytes=")) return RangeResult::kNone;
  header.remove_prefix(6);
  const std::size_t dash = header.find('-');
  if (dash == std::string_view::npos || header.find(',') != std::string_view::npos) {
    return RangeResult::kNone;
  }
  const std::string_view first = header.substr(0, dash);
  const std::string_view last = header.substr(dash + 1);
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
  const std::string last_modified = format_http_date(st.st_mtime);
  response.set_content_type(std::string(mime_type_for(resolved)));
  response.add_header("Last-Modified", last_modified);
  response.add_header("Accept-Ranges", "bytes");

  if (const auto since = parse_http_date(request.header("If-Modified-Since"));
      since && st.st_mtime <= *since && !request.has_header("Range")) {
    response.set_status(304);
    return;
  }
  ByteRange range;
  const std::string_view if_range = request.header("If-Range");
  const RangeResult result = (if_range.empty() || if_range == last_modified)
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
