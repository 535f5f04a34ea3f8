// The metric registry (lf/metrics/metric_registry.h): registration rules, the Prometheus rendering of
// counters, gauges and histograms, and exact totals when threads count while another scrapes.
// Every test uses names of its own: the registry is process-wide.
#include "lf/metrics/metric_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lf/metrics/metrics.h"

namespace lf {
namespace {

using metrics::register_counter;
using metrics::register_gauge;
using metrics::register_histogram;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(MetricRegistryTest, SameNameAndLabelsIsTheSameMetric) {
  auto first = register_counter("reg_same_total", "Counted twice", {{"kind", "a"}});
  auto again = register_counter("reg_same_total", "Another help, ignored", {{"kind", "a"}});
  auto other = register_counter("reg_same_total", "Counted twice", {{"kind", "b"}});
  first.add(2);
  again.add(3);
  other.add(7);
  EXPECT_EQ(first.value(), 5u);
  EXPECT_EQ(other.value(), 7u);

  // Label order does not matter.
  auto xy = register_gauge("reg_same_gauge", "A gauge", {{"x", "1"}, {"y", "2"}});
  auto yx = register_gauge("reg_same_gauge", "A gauge", {{"y", "2"}, {"x", "1"}});
  xy.set(4);
  yx.add(1.5);
  EXPECT_EQ(xy.value(), 5.5);

  const std::string text = metrics::registered_to_prometheus();
  EXPECT_TRUE(contains(text,
                       "# HELP reg_same_total Counted twice\n# TYPE reg_same_total counter\n"
                       "reg_same_total{kind=\"a\"} 5\nreg_same_total{kind=\"b\"} 7\n"))
      << text;
  EXPECT_TRUE(contains(text, "reg_same_gauge{x=\"1\",y=\"2\"} 5.5\n")) << text;
}

TEST(MetricRegistryTest, InvalidNamesAndClashesThrowAtRegistration) {
  EXPECT_THROW((void)register_counter("", "h"), std::invalid_argument);
  EXPECT_THROW((void)register_counter("1st_total", "h"), std::invalid_argument);
  EXPECT_THROW((void)register_counter("reg-dash", "h"), std::invalid_argument);
  EXPECT_THROW((void)register_counter("reg_bad_label", "h", {{"__reserved", "v"}}),
               std::invalid_argument);
  EXPECT_THROW((void)register_counter("reg_bad_label", "h", {{"a b", "v"}}), std::invalid_argument);
  EXPECT_THROW((void)register_counter("reg_bad_label", "h", {{"a", "1"}, {"a", "2"}}),
               std::invalid_argument);
  EXPECT_THROW((void)register_histogram("reg_le", "h", {{"le", "1"}}), std::invalid_argument);
  EXPECT_NO_THROW((void)register_counter("reg:colon_ok_total", "h", {{"v", "any \"text\" \n"}}));

  // Another type, other label names, other bounds.
  (void)register_counter("reg_typed", "h");
  EXPECT_THROW((void)register_gauge("reg_typed", "h"), std::invalid_argument);
  EXPECT_THROW((void)register_histogram("reg_typed", "h"), std::invalid_argument);
  (void)register_counter("reg_labelled", "h", {{"a", "1"}});
  EXPECT_THROW((void)register_counter("reg_labelled", "h", {{"b", "1"}}), std::invalid_argument);
  EXPECT_THROW((void)register_counter("reg_labelled", "h"), std::invalid_argument);
  const std::vector<double> bounds = {1, 2};
  (void)register_histogram("reg_bounds", "h", {}, bounds);
  EXPECT_THROW((void)register_histogram("reg_bounds", "h"), std::invalid_argument);
  EXPECT_NO_THROW((void)register_histogram("reg_bounds", "h", {}, bounds));
  const std::vector<double> unordered = {2, 1};
  EXPECT_THROW((void)register_histogram("reg_unordered", "h", {}, unordered),
               std::invalid_argument);

  // Names the framework or a histogram's samples already carry.
  EXPECT_THROW((void)register_counter("lf_connections_total", "h"), std::invalid_argument);
  (void)register_histogram("reg_hist", "h");
  EXPECT_THROW((void)register_counter("reg_hist_count", "h"), std::invalid_argument);
  (void)register_counter("reg_other_sum", "h");
  EXPECT_THROW((void)register_histogram("reg_other", "h"), std::invalid_argument);
}

TEST(MetricRegistryTest, HistogramIsCumulativeWithInfSumAndCount) {
  const std::vector<double> bounds = {0.5, 1, 2};
  auto histogram = register_histogram("reg_render_seconds", "Seconds, with \\ and\nnewline",
                                      {{"path", "/a\"b\\"}}, bounds);
  for (const double value : {0.25, 1.0, 1.5, 3.0}) histogram.observe(value);
  histogram.observe(std::chrono::milliseconds(500));  // le is inclusive: the 0.5 bucket
  EXPECT_EQ(histogram.count(), 5u);
  EXPECT_EQ(histogram.sum(), 6.25);
  const std::string text = metrics::registered_to_prometheus();
  EXPECT_TRUE(contains(text,
                       "# HELP reg_render_seconds Seconds, with \\\\ and\\nnewline\n"
                       "# TYPE reg_render_seconds histogram\n"
                       "reg_render_seconds_bucket{path=\"/a\\\"b\\\\\",le=\"0.5\"} 2\n"
                       "reg_render_seconds_bucket{path=\"/a\\\"b\\\\\",le=\"1\"} 3\n"
                       "reg_render_seconds_bucket{path=\"/a\\\"b\\\\\",le=\"2\"} 4\n"
                       "reg_render_seconds_bucket{path=\"/a\\\"b\\\\\",le=\"+Inf\"} 5\n"
                       "reg_render_seconds_sum{path=\"/a\\\"b\\\\\"} 6.25\n"
                       "reg_render_seconds_count{path=\"/a\\\"b\\\\\"} 5\n"))
      << text;
  // Exported with the framework's metrics.
  EXPECT_TRUE(contains(metrics::prometheus_text(), "reg_render_seconds_count{"));
  EXPECT_TRUE(contains(metrics::prometheus_text(), "# TYPE lf_connections_total counter\n"));
}

TEST(MetricRegistryTest, DefaultHandlesCountNothing) {
  metrics::CounterHandle counter;
  metrics::HistogramHandle histogram;
  metrics::GaugeHandle gauge;
  counter.add();
  histogram.observe(1.0);
  gauge.set(3);
  EXPECT_FALSE(counter.valid() || histogram.valid() || gauge.valid());
  EXPECT_EQ(counter.value(), 0u);
  EXPECT_EQ(histogram.count(), 0u);
}

// Run under the tsan preset too: hot-path writes, block growth (metrics registered while others
// count) and scrapes at once. Totals are exact once the threads have exited.
TEST(MetricRegistryTest, ThreadsCountWhileAnotherScrapesAndTotalsAreExact) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;
  auto counter = register_counter("reg_race_total", "Adds from every thread");
  auto gauge = register_gauge("reg_race_gauge", "Adds from every thread");
  const std::vector<double> bounds = {1, 2};
  auto histogram = register_histogram("reg_race_seconds", "Observed from every thread", {}, bounds);

  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string text = metrics::prometheus_text();
      EXPECT_TRUE(contains(text, "reg_race_seconds_bucket{le=\"+Inf\"}"));
      (void)counter.value();
      scrapes.fetch_add(1);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        counter.add();
        gauge.add(1);
        histogram.observe(i % 2 == 0 ? 0.5 : 1.5);
        if (i == kRounds / 2) {
          // A metric of its own, registered mid-run: new cells for every thread that uses it.
          auto own = register_counter("reg_race_own_total", "One series per thread",
                                      {{"thread", std::to_string(t)}});
          for (int j = 0; j < 1000; ++j) own.add(2);
          histogram.observe(3.0);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  while (scrapes.load() < 2) std::this_thread::yield();
  done = true;
  scraper.join();

  EXPECT_EQ(counter.value(), std::uint64_t{kThreads} * kRounds);
  EXPECT_EQ(gauge.value(), double{kThreads} * kRounds);
  EXPECT_EQ(histogram.count(), std::uint64_t{kThreads} * (kRounds + 1));
  EXPECT_EQ(histogram.sum(), kThreads * (kRounds / 2 * 0.5 + kRounds / 2 * 1.5 + 3.0));
  const std::string text = metrics::registered_to_prometheus();
  EXPECT_TRUE(contains(text, "reg_race_seconds_bucket{le=\"1\"} 40000\n")) << text;
  EXPECT_TRUE(contains(text, "reg_race_seconds_bucket{le=\"2\"} 80000\n")) << text;
  EXPECT_TRUE(contains(text, "reg_race_seconds_bucket{le=\"+Inf\"} 80004\n")) << text;
  EXPECT_TRUE(contains(text, "reg_race_seconds_count 80004\n")) << text;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(contains(text, "reg_race_own_total{thread=\"" + std::to_string(t) + "\"} 2000\n"));
  }
}

}  // namespace
}  // namespace lf
