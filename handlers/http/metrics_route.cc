#include "lf/handlers/http/metrics_route.h"

#include <utility>

#include "lf/metrics/metrics.h"

namespace lf {

void add_metrics_route(HttpRouter& router, std::string path) {
  router.get(std::move(path), [](const HttpRequest&, HttpResponse& response) {
    response.set_body(metrics::prometheus_text(), "text/plain; version=0.0.4");
  });
}

}  // namespace lf
