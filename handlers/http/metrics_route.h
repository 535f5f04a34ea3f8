// Public. The /metrics route: the framework's metrics (lf/metrics/metrics.h) and the registered ones
// (lf/metrics/metric_registry.h) in the Prometheus text format.
#pragma once

#include <string>

#include "lf/handlers/http/http_router.h"

namespace lf {

// Registers GET (and so HEAD) `path`, answered with metrics::prometheus_text() as
// "text/plain; version=0.0.4". Call while configuring the router.
void add_metrics_route(HttpRouter& router, std::string path = "/metrics");

}  // namespace lf
