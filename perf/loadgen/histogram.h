// Internal to perf/loadgen. LatencyHistogram: log-bucketed counts of nanosecond values (16
// linear sub-buckets per power of two, so any percentile is within ~6% of the true value),
// O(1) record, mergeable across threads. Not thread safe: one per thread, merged at the end.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace loadgen {

class LatencyHistogram {
 public:
  void record(std::uint64_t ns) noexcept {
    ++counts_[index_of(ns)];
    ++total_;
    sum_ += ns;
    if (ns > max_) max_ = ns;
    if (ns < min_) min_ = ns;
  }

  void merge(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
    if (other.max_ > max_) max_ = other.max_;
    if (other.min_ < min_) min_ = other.min_;
  }

  void clear() noexcept { *this = LatencyHistogram{}; }

  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return total_ == 0 ? 0 : min_; }
  [[nodiscard]] double mean() const noexcept {
    return total_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(total_);
  }

  // The value below which a fraction q of the samples lie (the middle of that bucket).
  [[nodiscard]] double percentile(double q) const noexcept {
    if (total_ == 0) return 0.0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return midpoint_of(i);
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr unsigned kSubBits = 4;  // 16 sub-buckets per power of two
  static constexpr std::uint64_t kSub = 1U << kSubBits;
  static constexpr std::size_t kBuckets = kSub + (64 - kSubBits) * kSub;

  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    const auto exponent = static_cast<unsigned>(std::bit_width(v) - 1);  // >= kSubBits
    const std::uint64_t sub = (v >> (exponent - kSubBits)) & (kSub - 1);
    return static_cast<std::size_t>(kSub + (exponent - kSubBits) * kSub + sub);
  }

  static double midpoint_of(std::size_t index) noexcept {
    if (index < kSub) return static_cast<double>(index);
    const std::size_t exponent = (index - kSub) / kSub + kSubBits;
    const std::size_t sub = (index - kSub) % kSub;
    const double width = static_cast<double>(std::uint64_t{1} << (exponent - kSubBits));
    const double low = static_cast<double>(std::uint64_t{1} << exponent) + static_cast<double>(sub) * width;
    return low + width / 2;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

}  // namespace loadgen
