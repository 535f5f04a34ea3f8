// Test support: a blocking loopback TCP client with timeouts (a broken server fails a test
// instead of hanging it), random data, checksums, fd counting, and a Server run in the background.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "lf/base/unique_fd.h"
#include "lf/net/inet_address.h"
#include "lf/server.h"

namespace lf::test {

using namespace std::chrono_literals;

class TestClient {
 public:
  explicit TestClient(const InetAddress& server, std::chrono::milliseconds timeout = 10s);

  [[nodiscard]] bool connected() const noexcept { return fd_.valid(); }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

  [[nodiscard]] bool send_all(std::string_view data);
  // Exactly n bytes, or nullopt on EOF, error or timeout.
  [[nodiscard]] std::optional<std::string> recv_exact(std::size_t n);
  // Everything until the server closes; nullopt on error or timeout.
  [[nodiscard]] std::optional<std::string> recv_until_eof();
  // True if the server closed the connection (EOF or reset) within the timeout.
  [[nodiscard]] bool wait_for_close();
  void shutdown_write();
  // Closes with SO_LINGER 0, so the server sees a reset instead of a FIN.
  void reset();
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
  std::chrono::milliseconds timeout_;
};

// Polls `done` every 2 ms until it is true or `limit` has passed; returns its last value. For
// tests that wait for a condition (connections closed, fds released) instead of sleeping.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s);

// Runs `command` with /bin/sh under timeout(1) (`limit_seconds`) and returns its stdout and
// stderr together, for tests that drive real command-line clients.
[[nodiscard]] std::string run_shell(const std::string& command, int limit_seconds);
// Whether `tool` is an executable in a PATH directory (tests skip themselves without it).
[[nodiscard]] bool installed(const std::string& tool);

[[nodiscard]] std::string random_bytes(std::size_t n, std::uint64_t seed);
[[nodiscard]] std::uint64_t checksum(std::string_view data);  // FNV-1a
// Descriptors open in this process (from /proc/self/fd).
[[nodiscard]] std::size_t open_fd_count();
// Raises RLIMIT_NOFILE's soft limit to at least n (up to the hard limit); returns the new limit.
std::size_t raise_fd_limit(std::size_t n);

// A Server on 127.0.0.1 with one listener of Handler, running until the object is destroyed.
template <typename Handler>
class BackgroundServer {
 public:
  explicit BackgroundServer(ServerOptions options = default_options())
      : server_(std::make_unique<Server>(options)) {
    address_ = server_->listen<Handler>(InetAddress(0, /*loopback=*/true));
    server_->start();
  }
  ~BackgroundServer() { stop(); }
  BackgroundServer(const BackgroundServer&) = delete;
  BackgroundServer& operator=(const BackgroundServer&) = delete;

  static ServerOptions default_options() {
    ServerOptions options;
    options.threads = 4;
    options.handle_signals = false;
    return options;
  }
  [[nodiscard]] const InetAddress& address() const noexcept { return address_; }
  [[nodiscard]] Server& server() noexcept { return *server_; }
  void stop() {
    if (!server_) return;
    server_->stop();
    server_->wait();
  }

 private:
  std::unique_ptr<Server> server_;
  InetAddress address_;
};

}  // namespace lf::test
