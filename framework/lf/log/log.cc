#include "lf/log/log.h"

#include <fmt/format.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "lf/log/async_logger.h"

namespace lf::log {

namespace {

constexpr std::string_view kLevelNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
// The level column, padded so that messages line up.
constexpr std::string_view kLevelColumns[] = {"TRACE ", "DEBUG ", "INFO  ",
                                              "WARN  ", "ERROR ", "FATAL "};
constexpr std::string_view kTruncated = " [truncated]";
// "20261123 10:33:29.123456Z " + tid + ' ' + level column.
constexpr std::size_t kMaxPrefix = 64;

// Per thread: formatting the date and time is the expensive part of a line, so it is done once
// per second; the thread id is asked from the kernel once.
struct ThreadContext {
  std::int64_t second = -1;  // what `time` shows
  char time[18] = {};        // "20261123 10:33:29."
  char tid[16] = {};         // "12345 "
  std::size_t tid_size = 0;
};
thread_local ThreadContext t_context;

void write_digits(char* out, unsigned value, int width) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

void refresh_time(ThreadContext& context, std::int64_t second) noexcept {
  using namespace std::chrono;
  const sys_seconds time{seconds{second}};
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  char* p = context.time;
  write_digits(p, static_cast<unsigned>(static_cast<int>(date.year())), 4);
  write_digits(p + 4, static_cast<unsigned>(date.month()), 2);
  write_digits(p + 6, static_cast<unsigned>(date.day()), 2);
  p[8] = ' ';
  write_digits(p + 9, static_cast<unsigned>(clock.hours().count()), 2);
  p[11] = ':';
  write_digits(p + 12, static_cast<unsigned>(clock.minutes().count()), 2);
  p[14] = ':';
  write_digits(p + 15, static_cast<unsigned>(clock.seconds().count()), 2);
  p[17] = '.';
  context.second = second;
}

// After fork() the surviving thread has a new id.
void forget_thread_id() noexcept { t_context.tid_size = 0; }

void cache_thread_id(ThreadContext& context) noexcept {
  static const int registered = ::pthread_atfork(nullptr, nullptr, forget_thread_id);
  (void)registered;
  const auto end = fmt::format_to_n(context.tid, sizeof context.tid - 1, "{}", ::gettid()).out;
  *end = ' ';
  context.tid_size = static_cast<std::size_t>(end + 1 - context.tid);
}

// Time, thread id and level; returns the length (at most kMaxPrefix).
std::size_t write_prefix(char* out, Level level) noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  ThreadContext& context = t_context;
  if (now.tv_sec != context.second) [[unlikely]] {
    refresh_time(context, now.tv_sec);
  }
  if (context.tid_size == 0) [[unlikely]] {
    cache_thread_id(context);
  }
  char* p = out;
  std::memcpy(p, context.time, sizeof context.time);
  p += sizeof context.time;
  write_digits(p, static_cast<unsigned>(now.tv_nsec / 1000), 6);
  p += 6;
  *p++ = 'Z';
  *p++ = ' ';
  std::memcpy(p, context.tid, context.tid_size);
  p += context.tid_size;
  const std::string_view column = kLevelColumns[static_cast<std::size_t>(level)];
  std::memcpy(p, column.data(), column.size());
  p += column.size();
  return static_cast<std::size_t>(p - out);
}

// " - file.cc:17\n"; returns the length.
std::size_t write_suffix(char* out, const detail::Source& source) noexcept {
  char* p = out;
  std::memcpy(p, " - ", 3);
  p += 3;
  std::memcpy(p, source.file.data(), source.file.size());
  p += source.file.size();
  *p++ = ':';
  const fmt::format_int line(source.line);
  std::memcpy(p, line.data(), line.size());
  p += line.size();
  *p++ = '\n';
  return static_cast<std::size_t>(p - out);
}

std::size_t suffix_capacity(const detail::Source& source) noexcept {
  return source.file.size() + 3 + 1 + 11 + 1;
}

void append_suffix(fmt::memory_buffer& line, const detail::Source& source) {
  // A line must fit one back-end buffer; a longer message is cut.
  const std::size_t room = AsyncLogger::kBufferSize - suffix_capacity(source);
  if (line.size() > room) {
    line.resize(room - kTruncated.size());
    line.append(kTruncated);
  }
  const std::size_t size = line.size();
  line.resize(size + suffix_capacity(source));
  line.resize(size + write_suffix(line.data() + size, source));
}

}  // namespace

std::string_view to_string(Level level) noexcept {
  return kLevelNames[static_cast<std::size_t>(level)];
}

std::optional<Level> parse_level(std::string_view name) noexcept {
  auto equals = [name](std::string_view expected) {
    return std::equal(
        name.begin(), name.end(), expected.begin(), expected.end(),
        [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; });
  };
  for (std::size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (equals(kLevelNames[i])) return static_cast<Level>(i);
  }
  if (equals("WARNING")) return Level::kWarn;
  return std::nullopt;
}

std::optional<Level> level_from_env() noexcept {
  const char* value = std::getenv("LF_LOG_LEVEL");
  if (value == nullptr) return std::nullopt;
  return parse_level(value);
}

void set_level(Level level) noexcept {
  detail::g_threshold.store(static_cast<int>(level), std::memory_order_relaxed);
}

Level level() noexcept {
  int threshold = detail::g_threshold.load(std::memory_order_relaxed);
  if (threshold == detail::kUnresolved) threshold = detail::resolve_threshold();
  return static_cast<Level>(threshold);
}

void init(const LogOptions& options) {
  (void)detail::resolve_threshold();
  static const bool at_exit = (std::atexit([] { shutdown(); }), true);
  (void)at_exit;
  AsyncLogger::instance().start(options);
}

void shutdown() { AsyncLogger::instance().stop(); }

void flush() { AsyncLogger::instance().flush(); }

LogStats stats() noexcept { return AsyncLogger::instance().stats(); }

namespace detail {

int resolve_threshold() noexcept {
  const char* value = std::getenv("LF_LOG_LEVEL");
  const std::optional<Level> from_env = value != nullptr ? parse_level(value) : std::nullopt;
  int expected = kUnresolved;
  // Fails if set_level() or another thread came first; either way the stored value wins.
  if (g_threshold.compare_exchange_strong(expected,
                                          static_cast<int>(from_env.value_or(kDefaultLevel)),
                                          std::memory_order_relaxed) &&
      value != nullptr && !from_env) {
    const std::string warning =
        fmt::format("lf::log: ignoring LF_LOG_LEVEL=\"{}\": not a level name\n", value);
    [[maybe_unused]] const auto n = ::write(STDERR_FILENO, warning.data(), warning.size());
  }
  return g_threshold.load(std::memory_order_relaxed);
}

void vlog(Level level, const Source& source, fmt::string_view format, fmt::format_args args) {
  fmt::memory_buffer line;  // on the stack for lines up to 500 bytes
  line.resize(kMaxPrefix);
  line.resize(write_prefix(line.data(), level));
  try {
    fmt::vformat_to(fmt::appender(line), format, args);
  } catch (const std::exception& e) {
    // Only a user's formatter can get here (format strings are checked at compile time).
    line.append(std::string_view("<formatting failed: "));
    line.append(std::string_view(e.what()));
    line.push_back('>');
  }
  append_suffix(line, source);
  AsyncLogger::instance().append({line.data(), line.size()});
}

void vlog_fatal(const Source& source, fmt::string_view format, fmt::format_args args) {
  vlog(Level::kFatal, source, format, args);
  AsyncLogger::instance().flush();
  std::abort();
}

std::size_t format_line(Level level, std::string_view message, const Source& source, char* out,
                        std::size_t capacity) noexcept {
  char prefix[kMaxPrefix];
  const std::size_t prefix_size = write_prefix(prefix, level);
  char suffix[kMaxPrefix + 16];
  const std::size_t suffix_size =
      source.file.size() + 16 < sizeof suffix ? write_suffix(suffix, source) : 0;
  std::size_t size = 0;
  for (std::string_view part :
       {std::string_view(prefix, prefix_size), message, std::string_view(suffix, suffix_size)}) {
    const std::size_t n = std::min(part.size(), capacity - size);
    std::memcpy(out + size, part.data(), n);
    size += n;
  }
  if (size > 0) out[size - 1] = '\n';
  return size;
}

}  // namespace detail

}  // namespace lf::log
