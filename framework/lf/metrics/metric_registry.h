// Public. Metrics of a program's own, exported at /metrics beside the framework's (metrics.h):
// register a counter, gauge or histogram once (at start-up, or on first use), keep the handle
// (metric_handles.h), and use it on the hot path. Thread safe.
//
//   static const auto gets = lf::metrics::register_counter(
//       "myapp_cache_gets_total", "Cache lookups", {{"result", "hit"}});
//   gets.add();
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lf/metrics/metric_handles.h"

namespace lf::metrics {

// A constant label of one series, e.g. {"command", "get"}. Series of one name with different
// label values form one family (one HELP and TYPE line); they must use the same label names.
struct Label {
  std::string name;
  std::string value;
};
using Labels = std::vector<Label>;

// Upper bounds in seconds for request latencies, from 10 us (a cached answer) to 10 s.
inline constexpr std::array<double, 19> kDefaultLatencyBuckets = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,     0.1,     0.25,   0.5,     1.0,    2.5,   5.0,    10.0};

// Each returns the metric `name` with `labels`, registering it the first time; a later call with
// the same name and labels returns the same metric (its help text is the first call's). Throws
// std::invalid_argument when the name or a label name breaks Prometheus's rules, when the name
// already has another type, other label names or (histograms) other bounds, or when it clashes
// with a framework metric or with a histogram's _bucket, _sum or _count.
[[nodiscard]] CounterHandle register_counter(std::string_view name, std::string_view help,
                                             const Labels& labels = {});
[[nodiscard]] GaugeHandle register_gauge(std::string_view name, std::string_view help,
                                         const Labels& labels = {});
// `bounds`: the buckets' upper bounds, finite and increasing; +Inf is added.
[[nodiscard]] HistogramHandle register_histogram(
    std::string_view name, std::string_view help, const Labels& labels = {},
    std::span<const double> bounds = kDefaultLatencyBuckets);

// Every registered metric in the Prometheus text format (0.0.4), families sorted by name.
[[nodiscard]] std::string registered_to_prometheus();

}  // namespace lf::metrics
