// Internal (used by the logger's back end). LogFile: the sink that log lines are written to,
// either rolling files or stderr. Not thread safe: one thread owns it.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "lf/base/unique_fd.h"

namespace lf::log {

// Files are <dir>/<base_name>.<YYYYmmdd-HHMMSS>.<host>.<pid>.log, named after the UTC time they
// were started. When the next lines arrive and the current file has reached roll_size bytes, or
// the UTC day has changed, a new file is started. Names have one-second resolution, so a file is
// started at most once per second: a burst bigger than roll_size within one second makes a longer
// file, never a clash. With an empty dir, lines go to stderr and nothing rolls.
//
// append() only queues the bytes (no copy); flush() writes everything queued with writev(2). The
// caller keeps appended data alive and unchanged until the next flush() (the back end passes its
// buffers and flushes before it reuses them). Time is passed in by the caller so that tests can
// cross midnight without waiting for it.
class LogFile {
 public:
  // Opens the first file (creating dir if needed); throws std::system_error if it cannot.
  LogFile(std::string dir, std::string base_name, std::size_t roll_size, std::time_t now);
  ~LogFile();  // flushes
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Queues data (whole lines). Starts a new file first if the current one has reached roll_size
  // or the day has changed.
  void append(std::string_view data, std::time_t now);
  // Writes what append() queued. Returns false if a write failed (those bytes are lost; the error
  // is reported on stderr once per file).
  bool flush();
  // Flushes, then starts a new file named after `now`. False (keeping the current file) in stderr
  // mode, when the current file was started in the same second, or when the new one cannot be
  // opened (reported on stderr).
  bool roll(std::time_t now);

  // The descriptor being written, for a fatal-signal handler's last write(2).
  [[nodiscard]] int fd() const noexcept { return file_.valid() ? file_.get() : 2; }
  // The current file's path; empty in stderr mode.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  // "<base_name>.<YYYYmmdd-HHMMSS>.<host>.<pid>.log" for a file started at `now`.
  [[nodiscard]] static std::string file_name(std::string_view base_name, std::time_t now);

 private:
  [[nodiscard]] UniqueFd open_file(std::time_t now, std::string* path) const;

  const std::string dir_;
  const std::string base_name_;
  const std::size_t roll_size_;
  UniqueFd file_;  // invalid in stderr mode
  std::string path_;
  std::time_t started_ = 0;     // when the current file was started
  std::size_t file_bytes_ = 0;  // written or queued into the current file
  bool reported_error_ = false;
  std::vector<iovec> pending_;
};

}  // namespace lf::log
