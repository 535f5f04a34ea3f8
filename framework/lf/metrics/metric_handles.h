// Public. Handles to the metrics a program registers (metric_registry.h): small values, cheap to
// copy, safe to use from any thread. A counter's add() and a histogram's observe() write cells
// of the calling thread only (no locked instruction, no sharing, no allocation once the thread
// has used the metric); a scrape sums the threads, as for the framework's counters (metrics.h).
// A default-constructed handle is registered nowhere and counts nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "lf/metrics/metric_cells.h"

namespace lf::metrics {

class MetricRegistry;  // metric_registry.cc

namespace detail {
inline std::atomic<double> g_unregistered_gauge{0};
}  // namespace detail

// A monotonic count. Thread safe.
class CounterHandle {
 public:
  constexpr CounterHandle() = default;

  void add(std::uint64_t n = 1) const { detail::bump(*detail::cells_at(cell_), n); }
  // Summed over the threads now; for tests and reports, not the hot path.
  [[nodiscard]] std::uint64_t value() const;
  [[nodiscard]] bool valid() const noexcept { return cell_ != detail::kNoCell; }

 private:
  friend class MetricRegistry;
  explicit CounterHandle(std::uint32_t cell) : cell_(cell) {}
  std::uint32_t cell_ = detail::kNoCell;
};

// A value that goes up and down: one atomic shared by every thread. Thread safe.
class GaugeHandle {
 public:
  GaugeHandle() = default;

  void set(double value) const noexcept { value_->store(value, std::memory_order_relaxed); }
  void add(double delta) const noexcept { value_->fetch_add(delta, std::memory_order_relaxed); }
  [[nodiscard]] double value() const noexcept { return value_->load(std::memory_order_relaxed); }
  [[nodiscard]] bool valid() const noexcept { return value_ != &detail::g_unregistered_gauge; }

 private:
  friend class MetricRegistry;
  explicit GaugeHandle(std::atomic<double>* value) : value_(value) {}
  std::atomic<double>* value_ = &detail::g_unregistered_gauge;
};

// Observations counted in fixed buckets (upper bounds given at registration, plus +Inf), with
// their sum. Thread safe.
class HistogramHandle {
 public:
  constexpr HistogramHandle() = default;

  void observe(double value) const {
    detail::Cell* cells = detail::cells_at(first_cell_);
    // Buckets are few (about 20) and a latency is usually small: a linear scan from the
    // smallest bound ends early and beats a binary search.
    std::uint32_t bucket = 0;
    while (bucket < bounds_count_ && value > bounds_[bucket]) ++bucket;
    detail::bump(cells[bucket], std::uint64_t{1});
    detail::bump_real(cells[bounds_count_ + 1], value);  // the sum, after the +Inf bucket
  }
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> elapsed) const {
    observe(std::chrono::duration<double>(elapsed).count());  // in seconds
  }

  // Summed over the threads now; for tests and reports, not the hot path.
  [[nodiscard]] std::uint64_t count() const;
  [[nodiscard]] double sum() const;
  [[nodiscard]] bool valid() const noexcept { return first_cell_ != detail::kNoCell; }

 private:
  friend class MetricRegistry;
  HistogramHandle(std::uint32_t first_cell, const double* bounds, std::uint32_t bounds_count)
      : first_cell_(first_cell), bounds_count_(bounds_count), bounds_(bounds) {}
  std::uint32_t first_cell_ = detail::kNoCell;
  std::uint32_t bounds_count_ = 0;
  const double* bounds_ = nullptr;  // owned by the registry, never freed
};

}  // namespace lf::metrics
