#include "lf/log/log_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace lf::log {

namespace {

constexpr std::time_t kSecondsPerDay = 24 * 60 * 60;

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknownhost";
  return name;
}

// Writes every iovec, resuming after partial writes and EINTR. Returns false on any other error.
bool write_all(int fd, iovec* iov, std::size_t count) {
  while (count > 0) {
    const int batch = static_cast<int>(std::min<std::size_t>(count, IOV_MAX));
    const ssize_t n = ::writev(fd, iov, batch);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (left > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

}  // namespace

LogFile::LogFile(std::string dir, std::string base_name, std::size_t roll_size, std::time_t now)
    : dir_(std::move(dir)),
      base_name_(std::move(base_name)),
      roll_size_(std::max<std::size_t>(roll_size, 1)),
      started_(now) {
  if (dir_.empty()) return;
  std::filesystem::create_directories(dir_);  // throws std::filesystem_error (a system_error)
  file_ = open_file(now, &path_);
  if (!file_) throw std::system_error(errno, std::generic_category(), "cannot open " + path_);
}

LogFile::~LogFile() { flush(); }

std::string LogFile::file_name(std::string_view base_name, std::time_t now) {
  using namespace std::chrono;
  const sys_seconds time{seconds{now}};
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  static const std::string host = host_name();
  return fmt::format("{}.{:04}{:02}{:02}-{:02}{:02}{:02}.{}.{}.log", base_name,
                     static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                     static_cast<unsigned>(date.day()), clock.hours().count(),
                     clock.minutes().count(), clock.seconds().count(), host, ::getpid());
}

UniqueFd LogFile::open_file(std::time_t now, std::string* path) const {
  *path = dir_ + '/' + file_name(base_name_, now);
  // O_APPEND: a restarted process with the same pid and second continues the file.
  return UniqueFd(::open(path->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
}

void LogFile::append(std::string_view data, std::time_t now) {
  if (data.empty()) return;
  // Rolling before a write, not after one, leaves no empty file behind and names each file
  // after its first line.
  if (file_ && (file_bytes_ >= roll_size_ || now / kSecondsPerDay != started_ / kSecondsPerDay)) {
    roll(now);
  }
  // writev() takes non-const pointers but does not write through them.
  pending_.push_back({const_cast<char*>(data.data()), data.size()});
  file_bytes_ += data.size();
}

bool LogFile::flush() {
  if (pending_.empty()) return true;
  const bool ok = write_all(fd(), pending_.data(), pending_.size());
  pending_.clear();
  if (!ok && !reported_error_) {
    reported_error_ = true;
    const std::string message = fmt::format("lf::log: cannot write {}: {}\n",
                                            path_.empty() ? "stderr" : path_, std::strerror(errno));
    [[maybe_unused]] const auto n = ::write(2, message.data(), message.size());
  }
  return ok;
}

bool LogFile::roll(std::time_t now) {
  if (!file_ || now == started_) return false;
  flush();
  std::string path;
  UniqueFd next = open_file(now, &path);
  if (!next) {
    const std::string message = fmt::format("lf::log: cannot open {}: {}; still writing {}\n", path,
                                            std::strerror(errno), path_);
    [[maybe_unused]] const auto n = ::write(2, message.data(), message.size());
    started_ = now;  // try again in a second, not on every append
    return false;
  }
  file_ = std::move(next);
  path_ = std::move(path);
  started_ = now;
  file_bytes_ = 0;
  reported_error_ = false;
  return true;
}

}  // namespace lf::log
