#include "http_routes.h"

#include "lf/handlers/http/metrics_route.h"

namespace lf::demo {

std::shared_ptr<const HttpService> demo_http_service(const std::string& root) {
  HttpOptions options;
  options.root = root;
  auto service = std::make_shared<HttpService>(options);
  service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
    response.set_body("Hello, World!", "text/plain");
  });
  add_metrics_route(service->router());
  return service;
}

}  // namespace lf::demo
