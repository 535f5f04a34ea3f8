#include "lf/handlers/http/http_service.h"

#include <exception>
#include <utility>

#include "lf/log/log.h"

namespace lf {

HttpService::HttpService(HttpOptions options) : options_(std::move(options)) {
  if (!options_.root.empty()) static_files_.emplace(options_.root);
}

void HttpService::handle(const HttpRequest& request, HttpResponse& response) const {
  if (request.path == "*") {  // "OPTIONS * HTTP/1.1": what the server as a whole supports
    response.set_status(204);
    response.add_header("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    return;
  }
  const HttpRouter::Lookup lookup = router_.find(request.method, request.path);
  if (lookup.match == HttpRouter::Match::kFound) {
    try {
      (*lookup.handler)(request, response);
    } catch (const std::exception& e) {
      LF_LOG_ERROR("HTTP handler for {} {} threw: {}", to_string(request.method), request.path,
                   e.what());
      response = HttpResponse();
      response.set_error(500);
    }
    return;
  }
  const bool read_only = request.method == HttpMethod::kGet || request.method == HttpMethod::kHead;
  if (lookup.match == HttpRouter::Match::kNotFound && static_files_) {
    if (read_only) return static_files_->serve(request, response);
    if (request.method == HttpMethod::kOptions) {
      response.set_status(204);
      response.add_header("Allow", "GET, HEAD, OPTIONS");
      return;
    }
    response.set_error(405);
    response.add_header("Allow", "GET, HEAD, OPTIONS");
    return;
  }
  if (lookup.match == HttpRouter::Match::kNotFound) return response.set_error(404);
  if (request.method == HttpMethod::kOptions) {
    response.set_status(204);
  } else {
    response.set_error(405);
  }
  response.add_header("Allow", lookup.allow);
}

}  // namespace lf
