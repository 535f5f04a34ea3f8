// Public. HttpService: everything HTTP connections share: the options, the router and the
// static files. Build one, add routes, then hand it to the server as a shared_ptr to const;
// from then on it is read only and thread safe:
//
//   lf::HttpOptions options;
//   options.root = "/srv/www";                      // optional: static files
//   auto service = std::make_shared<lf::HttpService>(options);
//   service->router().get("/hello", [](const lf::HttpRequest&, lf::HttpResponse& response) {
//     response.set_body("Hello, World!", "text/plain");
//   });
//   lf::add_metrics_route(service->router());       // GET /metrics (metrics_route.h)
//   server.listen<lf::HttpConnection>(address, listen_options,
//                                     std::shared_ptr<const lf::HttpService>(service));
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "lf/handlers/http/http_parser.h"
#include "lf/handlers/http/http_request.h"
#include "lf/handlers/http/http_response.h"
#include "lf/handlers/http/http_router.h"
#include "lf/handlers/http/static_files.h"

namespace lf {

struct HttpOptions {
  std::string root;                          // static files are served from here; empty: none
  std::size_t max_header_bytes = 8 * 1024;   // larger head: 431
  std::size_t max_body_bytes = 1024 * 1024;  // larger body: 413
  // A request head not complete this long after the connection opened or the previous request
  // was answered: 408 and close (an idle keep-alive connection is just closed).
  std::chrono::milliseconds header_timeout{10'000};
  // After a closing answer is sent to a client that sent more (pipelined bytes, an unread body,
  // a bad request), how long it may keep sending (discarded) before the connection is closed: a
  // graceful close lets it read the answer instead of getting a reset. A client that sent
  // nothing more is closed on at once.
  std::chrono::milliseconds linger_timeout{2'000};
};

class HttpService {
 public:
  // Throws std::system_error if options.root is set but is not a directory.
  explicit HttpService(HttpOptions options = {});

  // Configure before the service is shared with the server. Not thread safe.
  [[nodiscard]] HttpRouter& router() noexcept { return router_; }
  [[nodiscard]] const HttpRouter& router() const noexcept { return router_; }
  [[nodiscard]] const HttpOptions& options() const noexcept { return options_; }
  [[nodiscard]] HttpLimits limits() const noexcept {
    return HttpLimits{options_.max_header_bytes, options_.max_body_bytes};
  }

  // Answers one request: a route, else a static file (GET, HEAD), else 404; 405 with Allow
  // for a known path and another method; OPTIONS without a handler gets 204 with Allow; a
  // handler that throws gets 500. Thread safe.
  void handle(const HttpRequest& request, HttpResponse& response) const;

 private:
  HttpOptions options_;
  HttpRouter router_;
  std::optional<StaticFiles> static_files_;
};

}  // namespace lf
