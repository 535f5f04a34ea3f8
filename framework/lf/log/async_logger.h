// Internal (used by log.cc). AsyncLogger: the logger's per-thread buffers and its one back-end
// thread. Thread safe; write_for_crash() is meant for fatal-signal handlers.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "lf/log/log.h"

namespace lf::log {

class LogFile;

// Each thread appends lines to its own current 64 KiB buffer under its own mutex, which only the
// back end ever contends for. A full buffer moves to the shared queue (one shared lock per
// buffer, not per line) and the thread takes a fresh one from the free pool. The back end wakes
// when a few full buffers are queued, or at least every second; at least every flush_interval it
// also takes every thread's partly filled buffer, so no line waits longer than that. Per-thread
// order holds because a thread's buffers enter the queue in order, under that thread's mutex.
//
// Lock order: control_mutex_, registry_mutex_, a ThreadLog's mutex, queue_mutex_.
class AsyncLogger {
 public:
  static constexpr std::size_t kBufferSize = 64 * 1024;

  // Never destroyed, so that threads and static destructors can log while the process exits.
  static AsyncLogger& instance();

  AsyncLogger(const AsyncLogger&) = delete;
  AsyncLogger& operator=(const AsyncLogger&) = delete;

  // Throws std::system_error if the first file cannot be opened (nothing changes then).
  void start(const LogOptions& options);
  void stop();
  // One line (at most kBufferSize bytes). Buffered while the back end runs, otherwise written to
  // stderr at once.
  void append(std::string_view line);
  void flush();
  [[nodiscard]] LogStats stats() const noexcept;

  // From a fatal-signal handler: waits (bounded) for a back-end write in progress, then writes
  // every buffered line with write(2) and a last line naming the signal. Best effort: it takes
  // locks with bounded try_lock loops and allocates nothing.
  void write_for_crash(int signo) noexcept;

 private:
  struct Buffer;          // a 64 KiB block of whole lines
  struct ThreadLog;       // one thread's current buffer and the mutex that guards it
  struct ThreadLogOwner;  // unregisters the thread's ThreadLog when the thread exits
  using BufferPtr = std::unique_ptr<Buffer>;

  AsyncLogger();
  ~AsyncLogger() = default;

  void stop_locked();
  void run(LogFile& file);
  // One round of the back end; full: also take the partly filled buffers.
  void write_round(LogFile& file, bool full, std::vector<BufferPtr>& batch);
  void take_partial_buffers();
  void recycle(std::vector<BufferPtr>& batch);

  ThreadLog* register_this_thread();
  void unregister(ThreadLog& log);
  // Queues t's current buffer (or drops it if the queue is too long) and gives t a fresh one.
  void next_buffer(ThreadLog& t);
  // A line from a thread whose thread-local state is already destroyed: a buffer of its own.
  void append_orphan(std::string_view line);
  void write_stderr(std::string_view line) noexcept;

  // The child of fork() has only the forking thread: no back end, and other threads' mutexes may
  // be held forever. It drops the parent's buffered lines (the parent writes them) and logs to
  // stderr until it calls start().
  void on_fork_prepare();
  void on_fork_parent();
  void on_fork_child();

  static thread_local ThreadLog* this_thread_log_;  // null until the thread first logs
  static thread_local ThreadLogOwner this_thread_owner_;
  static thread_local bool this_thread_exited_;

  std::mutex control_mutex_;  // serializes start() and stop()
  std::unique_ptr<std::thread> thread_;
  bool handlers_installed_ = false;
  // Kept reachable but never touched: what a fork() child inherited from threads it lacks.
  std::vector<std::unique_ptr<std::thread>> lost_threads_;
  std::vector<ThreadLog*> lost_logs_;

  std::mutex registry_mutex_;
  std::vector<ThreadLog*> threads_;

  // Guards everything up to the next blank line.
  std::mutex queue_mutex_;
  std::condition_variable wake_;     // the back end waits here
  std::condition_variable flushed_;  // flush() callers wait here
  std::vector<BufferPtr> queue_;
  std::vector<BufferPtr> free_;
  std::size_t max_queued_ = 256;
  std::size_t wake_threshold_ = 8;  // queued full buffers that make a producer wake the back end
  std::uint64_t dropped_unreported_ = 0;
  std::uint64_t flush_requested_ = 0;
  std::uint64_t flush_done_ = 0;
  bool stopping_ = false;

  std::chrono::milliseconds flush_interval_{3000};
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};

  // The crash handler and the back end exclude each other with these (Dekker style: each stores
  // its own flag, then reads the other's).
  std::atomic<bool> crashing_{false};
  std::atomic<bool> in_round_{false};
  std::atomic<bool> crash_claimed_{false};
  std::atomic<int> crash_fd_{2};
  std::atomic<pid_t> backend_tid_{0};
};

}  // namespace lf::log
