#include "lf/log/async_logger.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <utility>

#include "lf/base/thread_name.h"
#include "lf/log/log_file.h"
#include "lf/metrics/metrics.h"

namespace lf::log {

struct AsyncLogger::Buffer {
  std::size_t size = 0;
  std::uint64_t messages = 0;  // counted so that a dropped buffer reports exactly what it lost
  char data[kBufferSize];

  void clear() noexcept {
    size = 0;
    messages = 0;
  }
};

struct AsyncLogger::ThreadLog {
  std::mutex mutex;
  BufferPtr current;          // null until needed: an idle thread holds no buffer
  bool crash_locked = false;  // used only by write_for_crash()
};

struct AsyncLogger::ThreadLogOwner {
  std::unique_ptr<ThreadLog> log;

  ~ThreadLogOwner() {
    if (log) instance().unregister(*log);
    this_thread_log_ = nullptr;
    this_thread_exited_ = true;
  }
};

thread_local AsyncLogger::ThreadLog* AsyncLogger::this_thread_log_ = nullptr;
thread_local AsyncLogger::ThreadLogOwner AsyncLogger::this_thread_owner_;
thread_local bool AsyncLogger::this_thread_exited_ = false;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kMaxFreeBuffers = 64;  // 4 MiB kept for reuse, the rest goes back to malloc
constexpr std::size_t kWakeBatch = 8;  // full buffers queued before a producer wakes the back end
constexpr int kFatalSignals[] = {SIGSEGV, SIGABRT, SIGBUS};
struct sigaction g_previous_actions[std::size(kFatalSignals)];

pid_t this_tid() noexcept { return static_cast<pid_t>(::gettid()); }

void write_all(int fd, const char* data, std::size_t size) noexcept {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void sleep_briefly(long nanoseconds) noexcept {
  const timespec delay{0, nanoseconds};
  ::nanosleep(&delay, nullptr);  // async-signal-safe, unlike std::this_thread::sleep_for
}

// A lock for a signal handler: the holder may be the interrupted thread itself, so never block.
bool try_lock_for_crash(std::mutex& mutex) noexcept {
  for (int i = 0; i < 100; ++i) {
    if (mutex.try_lock()) return true;
    sleep_briefly(100'000);
  }
  return false;
}

const char* signal_name(int signo) noexcept {
  switch (signo) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    default:
      return "a fatal signal";
  }
}

extern "C" void on_fatal_signal(int signo, siginfo_t* info, void* /*context*/) {
  const int saved_errno = errno;
  AsyncLogger::instance().write_for_crash(signo);
  for (std::size_t i = 0; i < std::size(kFatalSignals); ++i) {
    if (kFatalSignals[i] == signo) ::sigaction(signo, &g_previous_actions[i], nullptr);
  }
  // A fault raised by the kernel happens again when the handler returns, now with the previous
  // action; a signal sent by kill() or abort() must be sent again. It stays blocked (no
  // SA_NODEFER) until this handler returns.
  if (info == nullptr || info->si_code <= 0) ::raise(signo);
  errno = saved_errno;
}

}  // namespace

AsyncLogger& AsyncLogger::instance() {
  static AsyncLogger* const logger = new AsyncLogger;  // never destroyed; see the header
  return *logger;
}

AsyncLogger::AsyncLogger() {
  ::pthread_atfork([] { instance().on_fork_prepare(); }, [] { instance().on_fork_parent(); },
                   [] { instance().on_fork_child(); });
}

void AsyncLogger::start(const LogOptions& options) {
  std::lock_guard control(control_mutex_);
  // Opened first: if that throws, the running back end (if any) carries on.
  auto file =
      std::make_unique<LogFile>(options.dir, options.base_name, options.roll_size, ::time(nullptr));
  stop_locked();
  flush_interval_ = std::clamp<std::chrono::milliseconds>(options.flush_interval, 1ms, 3s);
  crash_fd_.store(file->fd());
  crashing_.store(false);
  crash_claimed_.store(false);
  thread_ = std::make_unique<std::thread>([this, owned = std::move(file)] { run(*owned); });
  {
    std::lock_guard lock(queue_mutex_);
    max_queued_ = std::max<std::size_t>(options.max_queued_buffers, 1);
    wake_threshold_ = std::clamp<std::size_t>(max_queued_ / 4, 1, kWakeBatch);
    running_.store(true);
  }
  if (!handlers_installed_) {
    struct sigaction action {};
    action.sa_sigaction = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO;
    for (std::size_t i = 0; i < std::size(kFatalSignals); ++i) {
      ::sigaction(kFatalSignals[i], &action, &g_previous_actions[i]);
    }
    handlers_installed_ = true;
  }
}

void AsyncLogger::stop() {
  std::lock_guard control(control_mutex_);
  stop_locked();
}

void AsyncLogger::stop_locked() {
  if (!thread_) return;
  {
    // Under the queue lock, so that the back end's last round sees both together.
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
    running_.store(false);
  }
  wake_.notify_one();
  thread_->join();
  thread_.reset();
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = false;
  }
  if (handlers_installed_) {
    for (std::size_t i = 0; i < std::size(kFatalSignals); ++i) {
      struct sigaction current {};
      ::sigaction(kFatalSignals[i], nullptr, &current);
      // Someone who replaced our handler since keeps theirs.
      if ((current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == on_fatal_signal) {
        ::sigaction(kFatalSignals[i], &g_previous_actions[i], nullptr);
      }
    }
    handlers_installed_ = false;
  }
}

void AsyncLogger::append(std::string_view line) {
  if (line.size() > kBufferSize) line = line.substr(0, kBufferSize);
  ThreadLog* t = this_thread_log_;
  if (t == nullptr) [[unlikely]] {
    t = register_this_thread();
    if (t == nullptr) {
      append_orphan(line);
      return;
    }
  }
  std::unique_lock lock(t->mutex);
  // Read under the thread's mutex: stop() clears it before the back end's last round takes
  // this mutex, so a line is either in that round or written here.
  if (!running_.load(std::memory_order_relaxed)) [[unlikely]] {
    lock.unlock();
    write_stderr(line);
    return;
  }
  Buffer* buffer = t->current.get();
  if (buffer == nullptr || kBufferSize - buffer->size < line.size()) [[unlikely]] {
    next_buffer(*t);
    buffer = t->current.get();
  }
  std::memcpy(buffer->data + buffer->size, line.data(), line.size());
  buffer->size += line.size();
  ++buffer->messages;
}

void AsyncLogger::next_buffer(ThreadLog& t) {
  BufferPtr fresh;
  bool wake = false;
  {
    std::lock_guard lock(queue_mutex_);
    if (t.current != nullptr && t.current->size > 0) {
      if (queue_.size() >= max_queued_) {
        // The back end is behind: drop this whole buffer and reuse it.
        dropped_unreported_ += t.current->messages;
        dropped_.fetch_add(t.current->messages, std::memory_order_relaxed);
        metrics::add(metrics::Counter::kLogMessagesDropped, t.current->messages);
        t.current->clear();
        return;
      }
      queue_.push_back(std::move(t.current));
      // Waking a sleeping thread costs tens of microseconds here: wake the back end once per few
      // buffers, never later than a quarter of the way to dropping. Its own timer covers the rest.
      wake = queue_.size() >= wake_threshold_;
    }
    if (!free_.empty()) {
      fresh = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (wake) wake_.notify_one();
  if (fresh == nullptr) fresh = std::make_unique_for_overwrite<Buffer>();
  fresh->clear();
  t.current = std::move(fresh);
}

void AsyncLogger::append_orphan(std::string_view line) {
  auto buffer = std::make_unique_for_overwrite<Buffer>();
  std::memcpy(buffer->data, line.data(), line.size());
  buffer->size = line.size();
  buffer->messages = 1;
  {
    std::lock_guard lock(queue_mutex_);
    if (running_.load(std::memory_order_relaxed)) queue_.push_back(std::move(buffer));
  }
  if (buffer == nullptr) {
    wake_.notify_one();
  } else {
    write_stderr(line);
  }
}

void AsyncLogger::write_stderr(std::string_view line) noexcept {
  write_all(STDERR_FILENO, line.data(), line.size());
  written_.fetch_add(1, std::memory_order_relaxed);
}

AsyncLogger::ThreadLog* AsyncLogger::register_this_thread() {
  if (this_thread_exited_) return nullptr;
  auto log = std::make_unique<ThreadLog>();
  ThreadLog* const raw = log.get();
  {
    std::lock_guard lock(registry_mutex_);
    threads_.push_back(raw);
  }
  this_thread_owner_.log = std::move(log);
  this_thread_log_ = raw;
  return raw;
}

void AsyncLogger::unregister(ThreadLog& log) {
  std::lock_guard registry(registry_mutex_);
  bool queued = false;
  {
    std::lock_guard thread(log.mutex);
    if (log.current != nullptr && log.current->size > 0) {
      std::lock_guard lock(queue_mutex_);
      if (running_.load(std::memory_order_relaxed)) {
        // A thread's last lines are never dropped; this exceeds the limit by one buffer at most.
        queue_.push_back(std::move(log.current));
        queued = true;
      }
    }
  }
  if (queued) wake_.notify_one();
  threads_.erase(std::remove(threads_.begin(), threads_.end(), &log), threads_.end());
}

void AsyncLogger::flush() {
  std::unique_lock lock(queue_mutex_);
  if (!running_.load(std::memory_order_relaxed)) return;
  const std::uint64_t ticket = ++flush_requested_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return flush_done_ >= ticket; });
}

LogStats AsyncLogger::stats() const noexcept {
  return {written_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed)};
}

void AsyncLogger::run(LogFile& file) {
  name_this_thread("lf-logger");
  backend_tid_.store(this_tid());
  std::vector<BufferPtr> batch;
  auto next_full = Clock::now() + flush_interval_;
  for (bool stop = false; !stop;) {
    std::uint64_t ticket = 0;
    bool full = false;
    {
      std::unique_lock lock(queue_mutex_);
      wake_.wait_until(lock, std::min(next_full, Clock::now() + 1s), [&] {
        return stopping_ || !queue_.empty() || flush_requested_ != flush_done_;
      });
      stop = stopping_;
      ticket = flush_requested_;
      full = stop || ticket != flush_done_ || Clock::now() >= next_full;
    }
    in_round_.store(true);
    if (crashing_.load()) {
      // A fatal-signal handler is writing the buffers; the process is about to die.
      in_round_.store(false);
      sleep_briefly(10'000'000);
      continue;
    }
    if (full) next_full = Clock::now() + flush_interval_;
    write_round(file, full, batch);
    in_round_.store(false);
    {
      std::lock_guard lock(queue_mutex_);
      flush_done_ = std::max(flush_done_, ticket);
    }
    flushed_.notify_all();
  }
}

void AsyncLogger::write_round(LogFile& file, bool full, std::vector<BufferPtr>& batch) {
  // Partial buffers enter the queue behind the thread's full ones, so one swap keeps the order.
  if (full) take_partial_buffers();
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(queue_mutex_);
    batch.swap(queue_);
    dropped = std::exchange(dropped_unreported_, 0);
  }
  if (batch.empty() && dropped == 0) return;
  const std::time_t now = ::time(nullptr);
  std::uint64_t messages = 0;
  for (const BufferPtr& buffer : batch) {
    file.append({buffer->data, buffer->size}, now);
    messages += buffer->messages;
  }
  char report[256];
  if (dropped > 0) {
    char message[128];
    const auto result = fmt::format_to_n(
        message, sizeof message,
        "lf::log dropped {} messages: the back end fell behind (max_queued_buffers)", dropped);
    const std::size_t size = detail::format_line(Level::kWarn, {message, result.size},
                                                 LF_LOG_SOURCE_, report, sizeof report);
    file.append({report, size}, now);
  }
  file.flush();
  written_.fetch_add(messages, std::memory_order_relaxed);
  crash_fd_.store(file.fd());
  recycle(batch);
}

void AsyncLogger::take_partial_buffers() {
  std::lock_guard registry(registry_mutex_);
  for (ThreadLog* t : threads_) {
    std::lock_guard thread(t->mutex);
    if (t->current != nullptr && t->current->size > 0) {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(std::move(t->current));
    }
  }
}

void AsyncLogger::recycle(std::vector<BufferPtr>& batch) {
  {
    std::lock_guard lock(queue_mutex_);
    while (!batch.empty() && free_.size() < kMaxFreeBuffers) {
      free_.push_back(std::move(batch.back()));
      batch.pop_back();
    }
  }
  batch.clear();  // frees the rest outside the lock
}

void AsyncLogger::write_for_crash(int signo) noexcept {
  if (!running_.load()) return;
  if (crash_claimed_.exchange(true)) {
    // Another thread is writing: give it time before this one's signal ends the process.
    for (int i = 0; i < 2000 && crashing_.load(); ++i) sleep_briefly(1'000'000);
    return;
  }
  crashing_.store(true);
  if (this_tid() != backend_tid_.load()) {
    // Let a round in progress finish: its buffers are no longer in the queue or the threads.
    for (int i = 0; i < 2000 && in_round_.load(); ++i) sleep_briefly(1'000'000);
  }
  const int fd = crash_fd_.load();
  const bool registry_locked = try_lock_for_crash(registry_mutex_);
  for (ThreadLog* t : threads_) t->crash_locked = try_lock_for_crash(t->mutex);
  const bool queue_locked = try_lock_for_crash(queue_mutex_);

  std::uint64_t messages = 0;
  auto write_buffer = [&](Buffer& buffer) {
    write_all(fd, buffer.data, buffer.size);
    messages += buffer.messages;
    buffer.clear();  // in case the process survives (a previous handler that returns)
  };
  for (const BufferPtr& buffer : queue_) {
    if (buffer != nullptr) write_buffer(*buffer);
  }
  for (ThreadLog* t : threads_) {
    if (t->current != nullptr) write_buffer(*t->current);
  }
  written_.fetch_add(messages, std::memory_order_relaxed);

  char message[128];
  const auto result = fmt::format_to_n(message, sizeof message,
                                       "caught {}; wrote the {} buffered messages before this line",
                                       signal_name(signo), messages);
  char line[256];
  const std::size_t size =
      detail::format_line(Level::kFatal, {message, result.size}, LF_LOG_SOURCE_, line, sizeof line);
  write_all(fd, line, size);

  if (queue_locked) queue_mutex_.unlock();
  for (ThreadLog* t : threads_) {
    if (t->crash_locked) t->mutex.unlock();
    t->crash_locked = false;
  }
  if (registry_locked) registry_mutex_.unlock();
  crashing_.store(false);
}

void AsyncLogger::on_fork_prepare() {
  control_mutex_.lock();
  registry_mutex_.lock();
  queue_mutex_.lock();
}

void AsyncLogger::on_fork_parent() {
  queue_mutex_.unlock();
  registry_mutex_.unlock();
  control_mutex_.unlock();
}

void AsyncLogger::on_fork_child() {
  if (thread_ != nullptr) lost_threads_.push_back(std::move(thread_));
  running_.store(false);
  stopping_ = false;
  flush_requested_ = 0;
  flush_done_ = 0;
  dropped_unreported_ = 0;
  in_round_.store(false);
  crashing_.store(false);
  crash_claimed_.store(false);
  for (BufferPtr& buffer : queue_) {
    buffer->clear();
    if (free_.size() < kMaxFreeBuffers) free_.push_back(std::move(buffer));
  }
  queue_.clear();
  for (ThreadLog* t : threads_) {
    if (t != this_thread_log_) lost_logs_.push_back(t);
  }
  threads_.clear();
  if (this_thread_log_ != nullptr) {
    threads_.push_back(this_thread_log_);
    if (this_thread_log_->current != nullptr) this_thread_log_->current->clear();
  }
  queue_mutex_.unlock();
  registry_mutex_.unlock();
  control_mutex_.unlock();
}

}  // namespace lf::log
