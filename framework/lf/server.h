// Public. Server: one HandleSet and one ThreadSet with any number of listeners. Users call
// listen<Handler>() for each port, then run() (or start(), stop(), wait()). stop() is thread
// safe and async-signal-safe; the rest is for the thread that owns the Server.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <vector>

#include "lf/acceptor.h"
#include "lf/handle_set.h"
#include "lf/inet_address.h"
#include "lf/socket.h"
#include "lf/stream_connection.h"
#include "lf/thread_set.h"
#include "lf/timer_service.h"
#include "lf/unique_fd.h"

namespace lf {

struct ServerOptions {
  std::size_t threads = 0;  // 0: one per core
  Suspension suspension = Suspension::kOneShot;
  int follower_spin = 0;
  // On stop, connections get this long to send what they owe and close; then they are closed.
  std::chrono::milliseconds drain_timeout{5000};
  // While run() or wait() blocks, SIGINT and SIGTERM call stop().
  bool handle_signals = true;
  // Resolution of the timer wheel (timers(), idle timeouts).
  std::chrono::milliseconds timer_tick{10};
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // stops and waits if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens on `address` (port 0 picks a free port); each accepted connection gets a new
  // Handler constructed from copies of `args`. Returns the bound address. Throws
  // std::system_error if the address cannot be bound.
  template <std::derived_from<StreamConnection> Handler, typename... Args>
  InetAddress listen(const InetAddress& address, const ListenOptions& options, Args... args) {
    return listen(address, [args...] { return std::make_shared<Handler>(args...); }, options);
  }
  template <std::derived_from<StreamConnection> Handler>
  InetAddress listen(const InetAddress& address) {
    return listen<Handler>(address, ListenOptions{});
  }
  InetAddress listen(const InetAddress& address, ConnectionFactory factory,
                     const ListenOptions& options = {});

  // Starts the threads and returns.
  void start();
  // Asks the server to stop; wait() or run() then shuts it down. Any thread, or a signal handler.
  void stop() noexcept;
  // Blocks until stop(), then shuts down gracefully: stop accepting, let connections finish and
  // flush their output (up to drain_timeout), close the rest, join the threads.
  void wait();
  // start() + wait().
  void run();

  [[nodiscard]] HandleSet& handle_set() noexcept { return handle_set_; }
  [[nodiscard]] ThreadSet& thread_set() noexcept { return thread_set_; }
  // Timers whose callbacks run on this server's threads. Thread safe.
  [[nodiscard]] TimerService& timers() noexcept { return *timers_; }
  // Open connections (registered handlers that are not listeners).
  [[nodiscard]] std::size_t connections() const;

 private:
  void shut_down();
  // Sends `bits` to every connection and waits until none is left, or the deadline.
  bool notify_all_and_wait(std::uint32_t bits, std::chrono::steady_clock::time_point deadline);
  // Registered handlers that are not connections: live listeners and the timer service.
  [[nodiscard]] std::size_t internal_handlers() const;

  ServerOptions options_;
  HandleSet handle_set_;
  ThreadSet thread_set_;
  std::shared_ptr<TimerService> timers_;
  UniqueFd stop_fd_;  // an eventfd: stop() and the signal handler write, wait() reads
  std::vector<std::shared_ptr<Acceptor>> acceptors_;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace lf
