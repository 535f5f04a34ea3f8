// Google Benchmark: the logger, lf against spdlog's async logger, both writing the same line
// (UTC time with microseconds, thread id, level, message with three arguments, file:line) to
// files in one temporary directory, with 1 and 2 producer threads.
//
// BM_Throughput: msgs_per_s counts the lines delivered (not dropped) from the first call until
// every line has reached its file (lf::log::flush(); spdlog: its queue is empty and flushed), so a
// back end that falls behind cannot look fast. spdlog's default policy blocks a caller when its
// queue is full; lf drops whole buffers instead, so lf gets a queue deep enough (64 MiB) not to
// drop here, and `dropped` shows that it did not.
// BM_Latency: every call is timed alone with the TSC; p50_ns, p99_ns and p999_ns are per-call
// percentiles, minus the timer's own median cost.
#include <benchmark/benchmark.h>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lf/log/log.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The directory both loggers write to; removed at exit.
class BenchDir {
 public:
  BenchDir() {
    std::string pattern = (fs::temp_directory_path() / "lf_log_bench.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  ~BenchDir() {
    lf::log::shutdown();
    spdlog::shutdown();
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  // Keeps the disk from filling up between runs.
  void clear() const {
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(path_, ignored)) fs::remove(entry, ignored);
  }

 private:
  std::string path_;
};

BenchDir& bench_dir() {
  static BenchDir dir;
  return dir;
}

// Two lines of the same shape for both loggers: a typical one (an integer and a string), and a
// heavier one that adds a double (its shortest round-trip formatting is costly).
constexpr const char* kPeer = "10.0.0.1:4242";

struct Lf {
  static void start() {
    lf::log::set_level(lf::log::Level::kInfo);
    lf::log::init({.dir = bench_dir().path(), .base_name = "lf", .max_queued_buffers = 1024});
  }
  static void log(std::int64_t i, bool with_double) {
    if (with_double) {
      LF_LOG_INFO("request {} from {} took {} us", i, kPeer, 12.5);
    } else {
      LF_LOG_INFO("accepted connection {} from {}", i, kPeer);
    }
  }
  static void drain() { lf::log::flush(); }
  static std::uint64_t dropped() { return lf::log::stats().messages_dropped; }
};

struct Spdlog {
  static inline std::shared_ptr<spdlog::details::thread_pool> pool;
  static inline std::shared_ptr<spdlog::async_logger> logger;

  static void start() {
    // spdlog's defaults: a queue of 8192 messages, one worker thread, block when full.
    if (!pool) pool = std::make_shared<spdlog::details::thread_pool>(8192, 1);
    static int run = 0;
    const std::string file = bench_dir().path() + "/spdlog." + std::to_string(run++) + ".log";
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, true);
    logger = std::make_shared<spdlog::async_logger>("bench", std::move(sink), pool,
                                                    spdlog::async_overflow_policy::block);
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y%m%d %H:%M:%S.%fZ %t %l %v - %s:%#", spdlog::pattern_time_type::utc));
  }
  static void log(std::int64_t i, bool with_double) {
    if (with_double) {
      SPDLOG_LOGGER_INFO(logger, "request {} from {} took {} us", i, kPeer, 12.5);
    } else {
      SPDLOG_LOGGER_INFO(logger, "accepted connection {} from {}", i, kPeer);
    }
  }
  static void drain() {
    auto wait_empty = [] {
      while (pool->queue_size() > 0) std::this_thread::yield();
    };
    wait_empty();
    logger->flush();  // queued behind every line, so it runs after they are written
    wait_empty();
  }
  static std::uint64_t dropped() { return pool ? pool->overrun_counter() : 0; }
};

template <typename Logger>
void BM_Throughput(benchmark::State& state) {
  Clock::time_point start;
  std::uint64_t dropped_before = 0;
  if (state.thread_index() == 0) {
    bench_dir().clear();
    Logger::start();
    dropped_before = Logger::dropped();
    start = Clock::now();
  }
  const bool with_double = state.range(0) != 0;
  std::int64_t i = 0;
  for (auto _ : state) Logger::log(i++, with_double);
  if (state.thread_index() == 0) {
    // Every thread has left the loop here (Google Benchmark waits for all of them).
    Logger::drain();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto dropped = static_cast<double>(Logger::dropped() - dropped_before);
    const auto total = static_cast<double>(state.iterations()) * state.threads();
    state.counters["msgs_per_s"] = benchmark::Counter((total - dropped) / seconds);
    state.counters["dropped"] = dropped;
  }
  state.SetItemsProcessed(state.iterations());
}

// Nanoseconds per TSC tick, and the median cost of the two timer reads themselves.
struct Tsc {
  double ns_per_tick = 1;
  std::uint64_t overhead_ticks = 0;

  static std::uint64_t now() noexcept {
    _mm_lfence();  // keeps the timed call between the two reads
    const std::uint64_t ticks = __rdtsc();
    _mm_lfence();
    return ticks;
  }

  Tsc() {
    const auto wall_start = Clock::now();
    const std::uint64_t tick_start = now();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::uint64_t ticks = now() - tick_start;
    ns_per_tick = std::chrono::duration<double, std::nano>(Clock::now() - wall_start).count() /
                  static_cast<double>(ticks);
    std::vector<std::uint64_t> samples(100'000);
    for (auto& sample : samples) {
      const std::uint64_t t0 = now();
      sample = now() - t0;
    }
    std::nth_element(samples.begin(), samples.begin() + 50'000, samples.end());
    overhead_ticks = samples[50'000];
  }
};

const Tsc& tsc() {
  static const Tsc calibrated;
  return calibrated;
}

template <typename Logger>
void BM_Latency(benchmark::State& state) {
  const Tsc& timer = tsc();
  if (state.thread_index() == 0) {
    bench_dir().clear();
    Logger::start();
  }
  std::vector<std::uint64_t> ticks(static_cast<std::size_t>(state.max_iterations));
  const bool with_double = state.range(0) != 0;
  std::size_t n = 0;
  std::int64_t i = 0;
  for (auto _ : state) {
    const std::uint64_t t0 = Tsc::now();
    Logger::log(i++, with_double);
    ticks[n++] = Tsc::now() - t0;
  }
  if (state.thread_index() == 0) Logger::drain();
  ticks.resize(n);
  std::sort(ticks.begin(), ticks.end());
  auto percentile_ns = [&](double p) {
    const std::uint64_t t = ticks[static_cast<std::size_t>(p * static_cast<double>(n - 1))];
    return static_cast<double>(t > timer.overhead_ticks ? t - timer.overhead_ticks : 0) *
           timer.ns_per_tick;
  };
  // Each thread has its own percentiles; the report shows their mean.
  state.counters["p50_ns"] =
      benchmark::Counter(percentile_ns(0.5), benchmark::Counter::kAvgThreads);
  state.counters["p99_ns"] =
      benchmark::Counter(percentile_ns(0.99), benchmark::Counter::kAvgThreads);
  state.counters["p999_ns"] =
      benchmark::Counter(percentile_ns(0.999), benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
}

// Arg: 0 for the typical line, 1 for the one with a double.
BENCHMARK_TEMPLATE(BM_Throughput, Lf)
    ->ArgName("double")
    ->DenseRange(0, 1)
    ->ThreadRange(1, 2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, Spdlog)
    ->ArgName("double")
    ->DenseRange(0, 1)
    ->ThreadRange(1, 2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Latency, Lf)
    ->ArgName("double")
    ->DenseRange(0, 1)
    ->ThreadRange(1, 2)
    ->Iterations(1'000'000)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Latency, Spdlog)
    ->ArgName("double")
    ->DenseRange(0, 1)
    ->ThreadRange(1, 2)
    ->Iterations(1'000'000)
    ->UseRealTime();

}  // namespace
