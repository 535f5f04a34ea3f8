// Public. The logger: LF_LOG_INFO("text {}", value) and friends, the level, init() / shutdown().
// Thread safe: every function and macro here may be called from any thread at any time.
#pragma once

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Each line is "20261123 10:33:29.123456Z 12345 INFO  text 42 - file.cc:17": UTC time with
// microseconds (Z), the kernel thread id, the level, the message, the source file's basename and
// line. The format string is checked at compile time. A disabled level costs one relaxed atomic
// load; its arguments are not evaluated.
#define LF_LOG_TRACE(...) LF_LOG_AT_(::lf::log::Level::kTrace, __VA_ARGS__)
#define LF_LOG_DEBUG(...) LF_LOG_AT_(::lf::log::Level::kDebug, __VA_ARGS__)
#define LF_LOG_INFO(...) LF_LOG_AT_(::lf::log::Level::kInfo, __VA_ARGS__)
#define LF_LOG_WARN(...) LF_LOG_AT_(::lf::log::Level::kWarn, __VA_ARGS__)
#define LF_LOG_ERROR(...) LF_LOG_AT_(::lf::log::Level::kError, __VA_ARGS__)
// Always logged, whatever the level; then flushes everything and aborts.
#define LF_LOG_FATAL(...) ::lf::log::detail::log_fatal(LF_LOG_SOURCE_, __VA_ARGS__)

#define LF_LOG_SOURCE_ \
  ::lf::log::detail::Source { ::lf::log::detail::basename(__FILE__), __LINE__ }
#define LF_LOG_AT_(level, ...)                                    \
  do {                                                            \
    if (::lf::log::enabled(level)) {                              \
      ::lf::log::detail::log(level, LF_LOG_SOURCE_, __VA_ARGS__); \
    }                                                             \
  } while (false)

namespace lf::log {

enum class Level : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kFatal };

inline constexpr Level kDefaultLevel = Level::kInfo;

// "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL".
[[nodiscard]] std::string_view to_string(Level level) noexcept;
// Accepts the names above in any case, and "warning"; for a --log-level flag.
[[nodiscard]] std::optional<Level> parse_level(std::string_view name) noexcept;
// The level named by the LF_LOG_LEVEL environment variable, if it is set to a valid name.
[[nodiscard]] std::optional<Level> level_from_env() noexcept;

// Messages below the level are dropped at the call site. Until set_level() is called, the level
// is LF_LOG_LEVEL if valid, else kDefaultLevel (read at the first log call or at init()).
void set_level(Level level) noexcept;
[[nodiscard]] Level level() noexcept;

// Where and how the back end writes (a value type, read by init()).
struct LogOptions {
  std::string dir;  // created if missing; empty: lines go to stderr (still through the back end)
  std::string base_name = "lf";  // files are <dir>/<base_name>.<YYYYmmdd-HHMMSS>.<host>.<pid>.log
  // A new file starts after this many bytes and at UTC midnight, at most one a second (file names
  // have one-second resolution).
  std::size_t roll_size = 64 * 1024 * 1024;
  // Longest time a line waits in a buffer before it is written; clamped to [1 ms, 3 s].
  std::chrono::milliseconds flush_interval = std::chrono::seconds(3);
  // When this many full 64 KiB buffers wait for the back end, new full buffers are dropped whole,
  // and a line reports how many messages were lost.
  std::size_t max_queued_buffers = 256;
};

// Counters of the logger since init() (a value type, a copy taken by a thread-safe call).
struct LogStats {
  std::uint64_t messages_written = 0;  // reached the file or stderr
  std::uint64_t messages_dropped = 0;  // dropped because the back end fell behind
};

// Starts the back-end thread (restarts it with new options if it runs: what was logged before is
// written with the old ones first) and installs SIGSEGV, SIGABRT and SIGBUS handlers that write
// what is buffered before the process dies. Throws std::system_error if the first file cannot
// be opened. Before init() and after shutdown(), lines go to stderr synchronously.
void init(const LogOptions& options = {});
// Writes everything logged so far and stops the back end. Also runs at normal exit.
void shutdown();
// Blocks until every line logged before the call, by any thread, has been written.
void flush();
[[nodiscard]] LogStats stats() noexcept;

namespace detail {

// Where a message was logged; file is the basename, computed at compile time.
struct Source {
  std::string_view file;
  int line;
};

consteval std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The threshold as an int, so that "not yet read from the environment" fits in the same atomic.
inline constexpr int kUnresolved = -1;
inline std::atomic<int> g_threshold{kUnresolved};
// Reads LF_LOG_LEVEL once (unless set_level() came first) and returns the threshold.
int resolve_threshold() noexcept;

void vlog(Level level, const Source& source, fmt::string_view format, fmt::format_args args);
[[noreturn]] void vlog_fatal(const Source& source, fmt::string_view format, fmt::format_args args);

template <typename... Args>
void log(Level level, const Source& source, fmt::format_string<Args...> format, Args&&... args) {
  vlog(level, source, format, fmt::make_format_args(args...));
}

template <typename... Args>
[[noreturn]] void log_fatal(const Source& source, fmt::format_string<Args...> format,
                            Args&&... args) {
  vlog_fatal(source, format, fmt::make_format_args(args...));
}

// Writes one complete line for `message` into out (at most capacity bytes, cut if longer) and
// returns its length. Allocates nothing: the back end uses it for its own lines, also from a
// fatal-signal handler.
std::size_t format_line(Level level, std::string_view message, const Source& source, char* out,
                        std::size_t capacity) noexcept;

}  // namespace detail

[[nodiscard]] inline bool enabled(Level level) noexcept {
  int threshold = detail::g_threshold.load(std::memory_order_relaxed);
  if (threshold == detail::kUnresolved) [[unlikely]] {
    threshold = detail::resolve_threshold();
  }
  return static_cast<int>(level) >= threshold;
}

}  // namespace lf::log
