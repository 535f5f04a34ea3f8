// Public. StaticFiles: answers GET and HEAD from a directory tree, sending file contents with
// sendfile(2): index.html for directories, Content-Type from the extension, Last-Modified and a
// weak ETag, the conditional headers in RFC 9110 13.2.2's order (If-Match, If-Unmodified-Since:
// 412; If-None-Match, If-Modified-Since: 304; If-Range), one byte range (206, 416; several
// ranges get the whole file, 200). A path that would leave the root is
// refused: ".." segments (decoded or not), encoded slashes, and symlinks resolving outside the
// root (every path is resolved with realpath(3) and must stay under the resolved root). Thread
// safe (const; each call opens its own file).
#pragma once

#include <string>

#include "lf/handlers/http/http_request.h"
#include "lf/handlers/http/http_response.h"

namespace lf {

class StaticFiles {
 public:
  // Throws std::system_error if `root` is not an existing directory.
  explicit StaticFiles(const std::string& root);

  // Fills `response` for request.path (GET or HEAD): 200, 206, 301 (a directory without its
  // trailing slash), 304, 403, 404, 412 or 416.
  void serve(const HttpRequest& request, HttpResponse& response) const;

  [[nodiscard]] const std::string& root() const noexcept { return root_; }

 private:
  // The real path of `path` if it lies under the root; else the status to answer (403, 404).
  [[nodiscard]] int resolve(const std::string& path, std::string& resolved) const;

  std::string root_;  // real path, no trailing slash (except for "/")
};

}  // namespace lf
