#include "lf/metrics/metric_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "lf/metrics/metrics.h"

namespace lf::metrics {

namespace {

using detail::CellTable;
using detail::kCellsPerBlock;

enum class Kind : std::uint8_t { kCounter, kGauge, kHistogram };

std::string_view type_name(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

struct Series {
  Labels labels;                               // sorted by name
  std::uint32_t first_cell = detail::kNoCell;  // counters and histograms
  std::unique_ptr<std::atomic<double>> gauge;  // gauges: one value for every thread
};

struct Family {
  Kind kind;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histograms; never changed, handles point into it
  std::vector<Series> series;
};

bool is_name_char(char c, bool first, bool colon_ok) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return letter || (colon_ok && c == ':') || (!first && c >= '0' && c <= '9');
}

// Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, and
// label names starting with "__" are reserved.
bool valid_name(std::string_view name, bool colon_ok) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i], i == 0, colon_ok)) return false;
  }
  return true;
}

// The names a family's samples carry: a histogram's three, or its own.
std::vector<std::string> sample_names(std::string_view name, Kind kind) {
  if (kind != Kind::kHistogram) return {std::string(name)};
  const std::string base(name);
  return {base + "_bucket", base + "_sum", base + "_count"};
}

std::string escaped(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// Prometheus spells the special values NaN, +Inf and -Inf.
std::string format_real(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

// `name="value",...` of a series, with one more pair (a histogram's le) if given.
std::string label_text(const Labels& labels, std::string_view extra_name = {},
                       std::string_view extra_value = {}) {
  std::string out;
  for (const Label& label : labels) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}=\"{}\"", label.name, escaped(label.value, true));
  }
  if (!extra_name.empty()) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}=\"{}\"", extra_name, extra_value);
  }
  return out.empty() ? out : "{" + out + "}";
}

}  // namespace

// The families by name, each with its series; their values live in the CellTable (counters,
// histograms) or in the series (gauges). Thread safe.
class MetricRegistry {
 public:
  static MetricRegistry& instance() {
    // Leaked on purpose: handles point into it and may be used during static destruction.
    static MetricRegistry* registry = new MetricRegistry;
    return *registry;
  }

  // What a handle of a series needs, read under the lock (a family's series may move).
  struct Found {
    std::uint32_t first_cell;
    std::atomic<double>* gauge;
    const std::vector<double>* bounds;  // the family's: never changed or moved
  };

  // The series `name` + `labels`, added if new; its family is checked against the request.
  // Throws std::invalid_argument.
  Found find_or_add(std::string_view name, std::string_view help, Labels labels, Kind kind,
                    std::span<const double> bounds = {}) {
    check_request(name, labels, kind, bounds);
    std::sort(labels.begin(), labels.end(),
              [](const Label& a, const Label& b) { return a.name < b.name; });
    std::lock_guard lock(mutex_);
    auto it = families_.find(name);
    if (it == families_.end()) {
      check_free(name, kind);
      Family family{kind, std::string(help), {}, {bounds.begin(), bounds.end()}, {}};
      for (const Label& label : labels) family.label_names.push_back(label.name);
      it = families_.emplace(std::string(name), std::move(family)).first;
    }
    Family& family = it->second;
    check_same_family(name, family, labels, kind, bounds);
    for (Series& series : family.series) {
      const bool same =
          std::equal(series.labels.begin(), series.labels.end(), labels.begin(),
                     [](const Label& a, const Label& b) { return a.value == b.value; });
      if (same) return {series.first_cell, series.gauge.get(), &family.bounds};
    }
    Series& series = family.series.emplace_back();
    series.labels = std::move(labels);
    if (kind == Kind::kGauge) {
      series.gauge = std::make_unique<std::atomic<double>>(0.0);
    } else if (kind == Kind::kCounter) {
      series.first_cell = CellTable::instance().allocate(1, CellTable::Kind::kCount);
    } else {
      // One cell per bucket, +Inf's included, then the sum.
      series.first_cell = CellTable::instance().allocate(
          static_cast<std::uint32_t>(bounds.size()) + 2, CellTable::Kind::kReal);
    }
    return {series.first_cell, series.gauge.get(), &family.bounds};
  }

  CounterHandle counter(std::string_view name, std::string_view help, const Labels& labels) {
    return CounterHandle(find_or_add(name, help, labels, Kind::kCounter).first_cell);
  }
  GaugeHandle gauge(std::string_view name, std::string_view help, const Labels& labels) {
    return GaugeHandle(find_or_add(name, help, labels, Kind::kGauge).gauge);
  }
  HistogramHandle histogram(std::string_view name, std::string_view help, const Labels& labels,
                            std::span<const double> bounds) {
    const Found found = find_or_add(name, help, labels, Kind::kHistogram, bounds);
    return HistogramHandle(found.first_cell, found.bounds->data(),
                           static_cast<std::uint32_t>(found.bounds->size()));
  }

  std::string render() {
    std::lock_guard lock(mutex_);
    const std::vector<std::uint64_t> totals = CellTable::instance().totals();
    const auto count = [&](std::uint32_t cell) { return totals[cell]; };
    const auto real = [&](std::uint32_t cell) { return std::bit_cast<double>(totals[cell]); };

    fmt::memory_buffer out;
    const auto line = [&out](std::string_view name, const std::string& labels, auto value) {
      fmt::format_to(std::back_inserter(out), "{}{} {}\n", name, labels, value);
    };
    for (const auto& [name, family] : families_) {
      fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name,
                     escaped(family.help, false), name, type_name(family.kind));
      for (const Series& series : family.series) {
        if (family.kind == Kind::kCounter) {
          line(name, label_text(series.labels), count(series.first_cell));
        } else if (family.kind == Kind::kGauge) {
          line(name, label_text(series.labels), format_real(series.gauge->load()));
        } else {
          const std::string bucket = name + "_bucket";
          std::uint64_t cumulative = 0;
          std::uint32_t cell = series.first_cell;
          for (const double bound : family.bounds) {
            cumulative += count(cell++);
            line(bucket, label_text(series.labels, "le", format_real(bound)), cumulative);
          }
          cumulative += count(cell++);
          line(bucket, label_text(series.labels, "le", "+Inf"), cumulative);
          line(name + "_sum", label_text(series.labels), format_real(real(cell)));
          line(name + "_count", label_text(series.labels), cumulative);
        }
      }
    }
    return fmt::to_string(out);
  }

 private:
  MetricRegistry() = default;

  // What can be checked without the lock: the names, the labels, the bounds.
  static void check_request(std::string_view name, const Labels& labels, Kind kind,
                            std::span<const double> bounds) {
    if (!valid_name(name, true)) {
      throw std::invalid_argument(fmt::format("invalid metric name '{}'", name));
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const std::string& label = labels[i].name;
      if (!valid_name(label, false) || label.starts_with("__") ||
          (kind == Kind::kHistogram && label == "le")) {
        throw std::invalid_argument(fmt::format("metric {}: invalid label name '{}'", name, label));
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (labels[j].name == label) {
          throw std::invalid_argument(fmt::format("metric {}: label '{}' twice", name, label));
        }
      }
    }
    if (kind != Kind::kHistogram) return;
    const bool increasing =
        std::adjacent_find(bounds.begin(), bounds.end(),
                           [](double a, double b) { return !(a < b); }) == bounds.end();
    const bool finite =
        std::all_of(bounds.begin(), bounds.end(), [](double b) { return std::isfinite(b); });
    if (!increasing || !finite || bounds.size() + 2 > kCellsPerBlock) {
      throw std::invalid_argument(
          fmt::format("histogram {}: bucket bounds must be finite, increasing and at most {}", name,
                      kCellsPerBlock - 2));
    }
  }

  // A new family's samples must not take a name the framework or another family uses.
  void check_free(std::string_view name, Kind kind) const {
    std::vector<std::string> taken;
    for (const Sample& sample : Snapshot{}.samples()) taken.push_back(sample.name);
    for (const auto& [other, family] : families_) {
      for (std::string& n : sample_names(other, family.kind)) taken.push_back(std::move(n));
    }
    for (const std::string& n : sample_names(name, kind)) {
      if (std::find(taken.begin(), taken.end(), n) != taken.end()) {
        throw std::invalid_argument(
            fmt::format("metric {}: the name {} is already taken by another metric", name, n));
      }
    }
  }

  static void check_same_family(std::string_view name, const Family& family, const Labels& labels,
                                Kind kind, std::span<const double> bounds) {
    if (family.kind != kind) {
      throw std::invalid_argument(fmt::format("metric {} is a {}, not a {}", name,
                                              type_name(family.kind), type_name(kind)));
    }
    const bool same_names =
        std::equal(family.label_names.begin(), family.label_names.end(), labels.begin(),
                   labels.end(), [](const std::string& a, const Label& b) { return a == b.name; });
    if (!same_names) {
      throw std::invalid_argument(fmt::format("metric {}: labels must be named as before ({})",
                                              name, fmt::join(family.label_names, ", ")));
    }
    if (kind == Kind::kHistogram &&
        !std::equal(family.bounds.begin(), family.bounds.end(), bounds.begin(), bounds.end())) {
      throw std::invalid_argument(
          fmt::format("histogram {} was registered with other bucket bounds", name));
    }
  }

  std::mutex mutex_;  // taken before the CellTable's, never after
  std::map<std::string, Family, std::less<>> families_;
};

std::uint64_t CounterHandle::value() const { return CellTable::instance().total(cell_); }

std::uint64_t HistogramHandle::count() const {
  if (!valid()) return 0;
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i <= bounds_count_; ++i) {
    total += CellTable::instance().total(first_cell_ + i);
  }
  return total;
}

double HistogramHandle::sum() const {
  if (!valid()) return 0.0;
  return std::bit_cast<double>(CellTable::instance().total(first_cell_ + bounds_count_ + 1));
}

CounterHandle register_counter(std::string_view name, std::string_view help, const Labels& labels) {
  return MetricRegistry::instance().counter(name, help, labels);
}

GaugeHandle register_gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return MetricRegistry::instance().gauge(name, help, labels);
}

HistogramHandle register_histogram(std::string_view name, std::string_view help,
                                   const Labels& labels, std::span<const double> bounds) {
  return MetricRegistry::instance().histogram(name, help, labels, bounds);
}

std::string registered_to_prometheus() { return MetricRegistry::instance().render(); }

}  // namespace lf::metrics
