#include "lf/base/signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace lf::signals {

namespace {
std::atomic<int> g_stop_fd{-1};
std::atomic<int> g_reload_fd{-1};
struct sigaction g_old_int {};
struct sigaction g_old_term {};
struct sigaction g_old_hup {};

void write_one(const std::atomic<int>& target) noexcept {
  const int saved_errno = errno;  // a signal handler must not change errno
  const int fd = target.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);  // async-signal-safe
  }
  errno = saved_errno;
}

extern "C" void on_stop_signal(int /*signo*/) { write_one(g_stop_fd); }
extern "C" void on_reload_signal(int /*signo*/) { write_one(g_reload_fd); }
}  // namespace

void ignore_sigpipe() noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGPIPE, &action, nullptr);
}

bool install_stop_handler(int fd) noexcept {
  int expected = -1;
  if (!g_stop_fd.compare_exchange_strong(expected, fd)) return false;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, &g_old_int);
  ::sigaction(SIGTERM, &action, &g_old_term);
  return true;
}

void remove_stop_handler(int fd) noexcept {
  if (g_stop_fd.load() != fd) return;
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  g_stop_fd.store(-1);
}

bool install_reload_handler(int fd) noexcept {
  int expected = -1;
  if (!g_reload_fd.compare_exchange_strong(expected, fd)) return false;
  struct sigaction action {};
  action.sa_handler = on_reload_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGHUP, &action, &g_old_hup);
  return true;
}

void remove_reload_handler(int fd) noexcept {
  if (g_reload_fd.load() != fd) return;
  ::sigaction(SIGHUP, &g_old_hup, nullptr);
  g_reload_fd.store(-1);
}

}  // namespace lf::signals
