// Public. The /metrics route: the process metrics (lf/metrics.h) in the Prometheus text format.
#pragma once

#include <string>

#include "http/http_router.h"

namespace lf {

// Registers GET (and so HEAD) `path`, answered with metrics::to_prometheus() of a fresh snapshot
// as "text/plain; version=0.0.4". Call while configuring the router.
void add_metrics_route(HttpRouter& router, std::string path = "/metrics");

}  // namespace lf
