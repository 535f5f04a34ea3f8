#include "support/test_client.h"

#include <dirent.h>
#include <poll.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <random>
#include <thread>

namespace lf::test {

namespace {
// Waits until fd is ready for `events` or the deadline passes.
bool wait_ready(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}
}  // namespace

TestClient::TestClient(const InetAddress& server, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  UniqueFd fd(::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return;
  const int rc = ::connect(fd.get(), server.sockaddr_ptr(), server.length());
  if (rc != 0 && errno != EINPROGRESS) return;
  if (!wait_ready(fd.get(), POLLOUT, std::chrono::steady_clock::now() + timeout_)) return;
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  if (error == 0) fd_ = std::move(fd);
}

bool TestClient::send_all(std::string_view data) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (!data.empty()) {
    const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_ready(fd_.get(), POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

std::optional<std::string> TestClient::recv_exact(std::size_t n) {
  std::string result(n, '\0');
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (got < n) {
    const ssize_t r = ::recv(fd_.get(), result.data() + got, n - got, 0);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_ready(fd_.get(), POLLIN, deadline)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return result;
}

std::optional<std::string> TestClient::recv_until_eof() {
  std::string result;
  char chunk[65536];
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    const ssize_t r = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (r > 0) {
      result.append(chunk, static_cast<std::size_t>(r));
    } else if (r == 0) {
      return result;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_ready(fd_.get(), POLLIN, deadline)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
}

bool TestClient::wait_for_close() {
  char chunk[4096];
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    const ssize_t r = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (r == 0) return true;
    if (r < 0 && errno != EAGAIN && errno != EINTR) return true;  // reset
    if (r < 0 && !wait_ready(fd_.get(), POLLIN, deadline)) return false;
  }
}

void TestClient::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

void TestClient::reset() {
  linger option{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &option, sizeof option);
  fd_.reset();
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string result(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    for (std::size_t k = 0; k < 8; ++k) result[i + k] = static_cast<char>(v >> (8 * k));
  }
  for (; i < n; ++i) result[i] = static_cast<char>(rng());
  return result;
}

std::uint64_t checksum(std::string_view data) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::size_t open_fd_count() {
  std::size_t count = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    ::closedir(dir);
    --count;  // the directory stream's own descriptor
  }
  return count;
}

std::size_t raise_fd_limit(std::size_t n) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < n) {
    limit.rlim_cur = std::min<rlim_t>(n, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::string run_shell(const std::string& command, int limit_seconds) {
  const std::string limited = "timeout " + std::to_string(limit_seconds) + " " + command + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(limited.c_str(), "r"), ::pclose);
  if (!pipe) return "<popen failed>";
  std::string output;
  char chunk[4096];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe.get())) > 0) output.append(chunk, n);
  return output;
}

bool installed(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (::access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace lf::test
