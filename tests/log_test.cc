#include "lf/log/log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
// GCC 12 warns falsely inside <regex> when building with -fsanitize=address (-Wmaybe-uninitialized
// on std::function in regex_automaton.h).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lf/log/log_file.h"

namespace lf::log {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh directory, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "lf_log_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every test leaves the logger stopped and at the default level, whichever way it ends.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shutdown();
    set_level(Level::kInfo);
  }
  void TearDown() override {
    shutdown();
    set_level(Level::kInfo);
  }
};

std::vector<fs::path> log_files(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // names hold the start time: name order is time order
  return files;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.emplace_back(text, start, end - start);
  }
  EXPECT_EQ(start, text.size()) << "the last line has no newline";
  return lines;
}

// The lines of every file in dir, files in name order.
std::vector<std::string> read_lines(const std::string& dir) {
  std::string all;
  for (const auto& file : log_files(dir)) all += read_file(file);
  return split_lines(all);
}

bool contains(const std::vector<std::string>& lines, std::string_view text) {
  return std::any_of(lines.begin(), lines.end(),
                     [text](const std::string& line) { return line.find(text) != line.npos; });
}

// Messages logged as "t<thread> m<index>" and the drop reports among lines: checks that each
// thread's messages arrive once and in order, and that what arrived plus what was reported
// dropped is everything.
void expect_complete_and_ordered(const std::vector<std::string>& lines, int threads,
                                 int per_thread) {
  std::vector<int> next(static_cast<std::size_t>(threads), 0);  // smallest index still allowed
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;
  static const std::regex drop_report("dropped (\\d+) messages");
  for (const std::string& line : lines) {
    const auto at = line.find(" t");
    const auto m = line.find(" m", at == line.npos ? 0 : at);
    if (at != line.npos && m != line.npos && line.find("INFO  t") != line.npos) {
      int thread = -1;
      int index = -1;
      std::from_chars(line.data() + at + 2, line.data() + m, thread);
      std::from_chars(line.data() + m + 2, line.data() + line.size(), index);
      ASSERT_GE(thread, 0) << line;
      ASSERT_LT(thread, threads) << line;
      auto& expected = next[static_cast<std::size_t>(thread)];
      // Dropped buffers leave gaps, never duplicates or reordering.
      ASSERT_GE(index, expected) << "duplicate or out of order: " << line;
      expected = index + 1;
      ++received;
      continue;
    }
    std::smatch match;
    if (std::regex_search(line, match, drop_report)) dropped += std::stoull(match[1].str());
  }
  EXPECT_EQ(received + dropped, static_cast<std::uint64_t>(threads) * per_thread)
      << "received " << received << ", dropped " << dropped;
}

TEST_F(LogTest, FourThreadsDeliverEveryMessageOnceInPerThreadOrder) {
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100'000;
  const LogStats before = stats();
  // A short flush interval makes the back end take partly filled buffers all the time, between
  // the full ones: the path where per-thread order could break.
  init({.dir = dir.path(),
        .base_name = "many",
        .roll_size = 8 * 1024 * 1024,
        .flush_interval = 5ms});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) LF_LOG_INFO("t{} m{}", t, i);
    });
  }
  for (auto& thread : threads) thread.join();
  shutdown();

  const std::vector<std::string> lines = read_lines(dir.path());
  expect_complete_and_ordered(lines, kThreads, kPerThread);
  const LogStats after = stats();
  EXPECT_EQ(after.messages_written - before.messages_written +
                (after.messages_dropped - before.messages_dropped),
            static_cast<std::uint64_t>(kThreads * kPerThread));
}

// stderr is a pipe that nobody reads until the producers are done, so the back end blocks on
// its first write and the queue overflows: drops are certain, and must be reported exactly.
TEST_F(LogTest, DroppedBuffersAreReportedExactly) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20'000;  // about 5 MB, far more than the pipe and 2 queued buffers
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const int saved_stderr = ::dup(STDERR_FILENO);
  ASSERT_GE(saved_stderr, 0);
  ASSERT_GE(::dup2(pipe_fds[1], STDERR_FILENO), 0);
  ::close(pipe_fds[1]);

  const LogStats before = stats();
  init({.dir = "", .max_queued_buffers = 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) LF_LOG_INFO("t{} m{}", t, i);
    });
  }
  for (auto& thread : threads) thread.join();
  std::string output;
  std::thread reader([&] {
    char chunk[65536];
    for (ssize_t n; (n = ::read(pipe_fds[0], chunk, sizeof chunk)) > 0;) {
      output.append(chunk, static_cast<std::size_t>(n));
    }
  });
  shutdown();
  ::dup2(saved_stderr, STDERR_FILENO);  // closes the pipe's last write end: the reader ends
  ::close(saved_stderr);
  reader.join();
  ::close(pipe_fds[0]);

  const LogStats after = stats();
  EXPECT_GT(after.messages_dropped, before.messages_dropped);
  expect_complete_and_ordered(split_lines(output), kThreads, kPerThread);
}

TEST_F(LogTest, LineFormat) {
  TempDir dir;
  init({.dir = dir.path()});
  const int line = __LINE__ + 1;
  LF_LOG_WARN("hello {} {:.2f}", "world", 3.14159);
  shutdown();

  const std::vector<std::string> lines = read_lines(dir.path());
  ASSERT_EQ(lines.size(), 1u);
  static const std::regex format(
      R"(^(\d{4})(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.\d{6}Z (\d+) )"  // UTC time, thread id
      R"(WARN  hello world 3\.14 - log_test\.cc:(\d+)$)");                // level, message, source
  std::smatch match;
  ASSERT_TRUE(std::regex_match(lines[0], match, format)) << lines[0];
  EXPECT_EQ(std::stoi(match[7].str()), ::gettid());
  EXPECT_EQ(std::stoi(match[8].str()), line);
  std::tm utc{};
  utc.tm_year = std::stoi(match[1].str()) - 1900;
  utc.tm_mon = std::stoi(match[2].str()) - 1;
  utc.tm_mday = std::stoi(match[3].str());
  utc.tm_hour = std::stoi(match[4].str());
  utc.tm_min = std::stoi(match[5].str());
  utc.tm_sec = std::stoi(match[6].str());
  EXPECT_LT(std::abs(::timegm(&utc) - std::time(nullptr)), 60) << "the time is UTC";
}

TEST_F(LogTest, OverlongLinesAreCutToOneBuffer) {
  TempDir dir;
  init({.dir = dir.path()});
  const std::string huge(200'000, 'h');
  LF_LOG_INFO("{}", huge);
  LF_LOG_INFO("after");
  shutdown();

  const std::vector<std::string> lines = read_lines(dir.path());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_LE(lines[0].size() + 1, 64u * 1024) << "a line fills one 64 KiB buffer at most";
  EXPECT_GT(lines[0].size(), 64u * 1000);
  EXPECT_NE(lines[0].find("hhh [truncated] - log_test.cc:"), std::string::npos);
  EXPECT_NE(lines[1].find("INFO  after - "), std::string::npos);
}

TEST_F(LogTest, DisabledLevelsAreNotWrittenNorEvaluated) {
  TempDir dir;
  init({.dir = dir.path()});
  set_level(Level::kWarn);
  int evaluated = 0;
  auto count = [&evaluated] { return ++evaluated; };
  LF_LOG_TRACE("trace {}", count());
  LF_LOG_DEBUG("debug {}", count());
  LF_LOG_INFO("info {}", count());
  EXPECT_EQ(evaluated, 0);
  LF_LOG_WARN("warn {}", count());
  LF_LOG_ERROR("error {}", count());
  EXPECT_EQ(evaluated, 2);
  EXPECT_FALSE(enabled(Level::kInfo));
  EXPECT_TRUE(enabled(Level::kWarn));
  shutdown();

  const std::vector<std::string> lines = read_lines(dir.path());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("WARN  warn 1 - "), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("ERROR error 2 - "), std::string::npos) << lines[1];
}

TEST_F(LogTest, ParseLevel) {
  EXPECT_EQ(parse_level("trace"), Level::kTrace);
  EXPECT_EQ(parse_level("DEBUG"), Level::kDebug);
  EXPECT_EQ(parse_level("Info"), Level::kInfo);
  EXPECT_EQ(parse_level("warn"), Level::kWarn);
  EXPECT_EQ(parse_level("warning"), Level::kWarn);
  EXPECT_EQ(parse_level("error"), Level::kError);
  EXPECT_EQ(parse_level("fatal"), Level::kFatal);
  EXPECT_EQ(parse_level(""), std::nullopt);
  EXPECT_EQ(parse_level("inf"), std::nullopt);
  EXPECT_EQ(parse_level("infos"), std::nullopt);
  EXPECT_EQ(parse_level("verbose"), std::nullopt);
  for (Level level :
       {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kFatal}) {
    EXPECT_EQ(parse_level(to_string(level)), level);
  }
}

// The threshold is read from LF_LOG_LEVEL at first use; the test forgets the resolved value to
// make the next use a first use again.
TEST_F(LogTest, LevelFromEnvironment) {
  auto forget_level = [] { detail::g_threshold.store(detail::kUnresolved); };

  ::setenv("LF_LOG_LEVEL", "error", 1);
  EXPECT_EQ(level_from_env(), Level::kError);
  forget_level();
  EXPECT_FALSE(enabled(Level::kWarn)) << "the environment beats the compiled default";
  EXPECT_TRUE(enabled(Level::kError));
  EXPECT_EQ(level(), Level::kError);
  set_level(Level::kDebug);
  EXPECT_EQ(level(), Level::kDebug) << "the API beats the environment";

  forget_level();
  set_level(Level::kTrace);
  EXPECT_TRUE(enabled(Level::kTrace)) << "set_level() before the first use still wins";

  ::setenv("LF_LOG_LEVEL", "loud", 1);
  EXPECT_EQ(level_from_env(), std::nullopt);
  forget_level();
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(level(), kDefaultLevel) << "an invalid name leaves the default";
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("LF_LOG_LEVEL"), std::string::npos);

  ::unsetenv("LF_LOG_LEVEL");
  EXPECT_EQ(level_from_env(), std::nullopt);
  forget_level();
  EXPECT_EQ(level(), kDefaultLevel);
}

TEST_F(LogTest, BeforeInitLinesGoToStderrAtOnce) {
  const LogStats before = stats();
  ::testing::internal::CaptureStderr();
  LF_LOG_WARN("not started {}", 7);
  const std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(output.find("WARN  not started 7 - log_test.cc:"), std::string::npos) << output;
  EXPECT_EQ(stats().messages_written, before.messages_written + 1);
}

TEST_F(LogTest, PartlyFilledBuffersAreWrittenWithinTheFlushInterval) {
  TempDir dir;
  init({.dir = dir.path(), .flush_interval = 100ms});
  LF_LOG_INFO("waiting line");
  // No flush() and no full buffer: only the back end's periodic round can write it.
  bool written = false;
  for (int i = 0; i < 300 && !written; ++i) {
    std::this_thread::sleep_for(10ms);
    written = contains(read_lines(dir.path()), "waiting line");
  }
  EXPECT_TRUE(written);
}

TEST_F(LogTest, InitAgainRestartsWithNewOptions) {
  TempDir first;
  TempDir second;
  init({.dir = first.path()});
  LF_LOG_INFO("to the first");
  init({.dir = second.path()});
  LF_LOG_INFO("to the second");
  shutdown();
  EXPECT_EQ(read_lines(first.path()).size(), 1u);
  EXPECT_TRUE(contains(read_lines(first.path()), "to the first"));
  EXPECT_EQ(read_lines(second.path()).size(), 1u);
  EXPECT_TRUE(contains(read_lines(second.path()), "to the second"));
}

// File names: <base>.<YYYYmmdd-HHMMSS>.<host>.<pid>.log (the host name may contain dots).
std::string file_time(const fs::path& path, std::string_view base) {
  static const std::regex name(R"(^([a-z]+)\.(\d{8}-\d{6})\..+\.(\d+)\.log$)");
  std::smatch match;
  const std::string file = path.filename().string();
  if (!std::regex_match(file, match, name)) return "bad name: " + file;
  if (match[1].str() != base) return "bad base: " + file;
  if (std::stoi(match[3].str()) != ::getpid()) return "bad pid: " + file;
  return match[2].str();
}

// 2026-11-23 23:59:58 UTC.
constexpr std::time_t kLateEvening = 1795478398;

TEST_F(LogTest, LogFileRollsBySize) {
  TempDir dir;
  std::vector<std::string> lines;
  lines.reserve(100);  // LogFile keeps pointers to the data until flush()
  std::string expected;
  {
    LogFile file(dir.path(), "size", 1000, kLateEvening - 1000);
    for (int i = 0; i < 100; ++i) {
      lines.push_back(fmt::format("{:<49}\n", fmt::format("line {}", i)));
      expected += lines.back();
      // Five lines (250 bytes) a second: a roll every four seconds, never two in one second.
      file.append(lines.back(), kLateEvening - 1000 + i / 5);
    }
  }  // the destructor flushes
  const std::vector<fs::path> files = log_files(dir.path());
  ASSERT_EQ(files.size(), 5u);
  std::string all;
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(file_time(files[i], "size").size(), 15u) << file_time(files[i], "size");
    const std::string content = read_file(files[i]);
    EXPECT_EQ(content.size(), 1000u) << files[i];
    all += content;
  }
  EXPECT_EQ(all, expected);
}

TEST_F(LogTest, LogFileStartsAtMostOneFileASecond) {
  TempDir dir;
  const std::string big(3000, 'x');
  LogFile file(dir.path(), "burst", 1000, kLateEvening);
  file.append(big, kLateEvening);  // over roll_size, but a new file would have the same name
  file.append("\n", kLateEvening);
  EXPECT_FALSE(file.roll(kLateEvening));
  EXPECT_TRUE(file.flush());
  EXPECT_EQ(log_files(dir.path()).size(), 1u);
  file.append("next\n", kLateEvening + 1);  // the next second rolls
  EXPECT_TRUE(file.flush());
  EXPECT_EQ(log_files(dir.path()).size(), 2u);
}

TEST_F(LogTest, LogFileRollsAtMidnightUtc) {
  TempDir dir;
  {
    LogFile file(dir.path(), "day", 1 << 20, kLateEvening);
    file.append("evening\n", kLateEvening);
    file.append("last second\n", kLateEvening + 1);  // 23:59:59
    file.append("new day\n", kLateEvening + 2);      // 00:00:00 the next day
  }
  const std::vector<fs::path> files = log_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(file_time(files[0], "day"), "20261123-235958");
  EXPECT_EQ(file_time(files[1], "day"), "20261124-000000");
  EXPECT_EQ(read_file(files[0]), "evening\nlast second\n");
  EXPECT_EQ(read_file(files[1]), "new day\n");
}

TEST_F(LogTest, LoggerRollsBySizeKeepingEveryLineInOrder) {
  TempDir dir;
  init({.dir = dir.path(), .base_name = "roll", .roll_size = 4096});
  int sent = 0;
  for (int burst = 0; burst < 2; ++burst) {
    if (burst > 0) std::this_thread::sleep_for(1100ms);  // file names have one-second resolution
    for (int i = 0; i < 500; ++i) LF_LOG_INFO("t0 m{}", sent++);
    flush();
  }
  shutdown();
  const std::vector<fs::path> files = log_files(dir.path());
  ASSERT_GE(files.size(), 2u);
  for (const auto& file : files) EXPECT_EQ(file_time(file, "roll").size(), 15u) << file;
  const std::vector<std::string> lines = read_lines(dir.path());
  EXPECT_EQ(lines.size(), static_cast<std::size_t>(sent));
  expect_complete_and_ordered(lines, 1, sent);
}

// Runs body in a forked child and returns its wait status. The logger must be stopped (it is,
// between tests), so that the child starts from a clean state.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerHandlesSegv = true;
#elif defined(__has_feature)
constexpr bool kSanitizerHandlesSegv =
    __has_feature(address_sanitizer) || __has_feature(thread_sanitizer);
#else
constexpr bool kSanitizerHandlesSegv = false;
#endif

int run_in_child(void (*body)(const std::string&), const std::string& dir) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body(dir);
    ::_exit(100);  // body should not return
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

TEST_F(LogTest, AbortWritesBufferedLines) {
  TempDir dir;
  const int status = run_in_child(
      [](const std::string& path) {
        init({.dir = path});
        for (int i = 0; i < 10; ++i) LF_LOG_INFO("child line {}", i);
        std::abort();  // no flush: only the SIGABRT handler can write them
      },
      dir.path());
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGABRT);
  const std::vector<std::string> lines = read_lines(dir.path());
  ASSERT_EQ(lines.size(), 11u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(lines[static_cast<std::size_t>(i)].find(fmt::format("child line {} -", i)),
              std::string::npos);
  }
  EXPECT_NE(lines[10].find("FATAL caught SIGABRT; wrote the 10 buffered messages"),
            std::string::npos)
      << lines[10];
}

TEST_F(LogTest, SegfaultWritesBufferedLines) {
  TempDir dir;
  const int status = run_in_child(
      [](const std::string& path) {
        init({.dir = path});
        LF_LOG_ERROR("about to crash");
        ::raise(SIGSEGV);
      },
      dir.path());
  if (kSanitizerHandlesSegv) {
    // Ours hands over to the sanitizer's handler, which reports and exits or aborts its own way.
    EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 100) << "the child survived";
  } else {
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  }
  const std::vector<std::string> lines = read_lines(dir.path());
  EXPECT_TRUE(contains(lines, "ERROR about to crash"));
  EXPECT_TRUE(contains(lines, "caught SIGSEGV"));
}

TEST_F(LogTest, FatalWritesEverythingAndAborts) {
  TempDir dir;
  const int status = run_in_child(
      [](const std::string& path) {
        init({.dir = path});
        std::thread([] { LF_LOG_INFO("from another thread"); }).join();
        LF_LOG_FATAL("cannot go on: {}", 42);
      },
      dir.path());
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGABRT);
  const std::vector<std::string> lines = read_lines(dir.path());
  EXPECT_TRUE(contains(lines, "INFO  from another thread"));
  EXPECT_TRUE(contains(lines, "FATAL cannot go on: 42 - log_test.cc:"));
}

}  // namespace
}  // namespace lf::log
