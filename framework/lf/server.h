// Public. Server: a Dispatcher (by default Leader/Followers: one HandleSet and one ThreadSet) with
// any number of listeners and a TimerService. Users call
// listen<Handler>() for each port, then run() (or start(), stop(), wait()). stop() is thread
// safe and async-signal-safe; the rest is for the thread that owns the Server.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/models/dispatcher.h"
#include "lf/models/model.h"
#include "lf/net/acceptor.h"
#include "lf/net/connect_handle.h"
#include "lf/net/connector.h"
#include "lf/net/datagram_handler.h"
#include "lf/net/inet_address.h"
#include "lf/net/socket.h"
#include "lf/net/stream_connection.h"
#include "lf/net/tls_context.h"  // ListenOptions::tls
#include "lf/pattern/handle_set.h"
#include "lf/pattern/thread_set.h"
#include "lf/timer/timer_service.h"

namespace lf {

// How a Server runs (a value type, read by the constructor): the dispatcher's options
// (dispatcher.h: model, threads, suspension, the elastic ThreadSet's max_threads, grow_after and
// shrink_after) and the Server's own.
struct ServerOptions : DispatcherOptions {
  // On stop, connections get this long to send what they owe and close; then they are closed.
  std::chrono::milliseconds drain_timeout{5000};
  // From start() until wait() (or run()) returns, SIGINT and SIGTERM call stop() and, on a server
  // with a TLS listener, SIGHUP calls reload_tls() (without one SIGHUP keeps its default action).
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
    check_shared_through_event_handler<Handler>();
    return listen(address, [args...] { return std::make_shared<Handler>(args...); }, options);
  }
  template <std::derived_from<StreamConnection> Handler>
  InetAddress listen(const InetAddress& address) {
    return listen<Handler>(address, ListenOptions{});
  }
  InetAddress listen(const InetAddress& address, ConnectionFactory factory,
                     const ListenOptions& options = {});

  // Connects to `address` (connector.h: timeout, retries with backoff, options.on_failure); the
  // connection is a new Handler constructed from copies of `args`, opened on handle_set(). The
  // handle tells the status, gives the connection once established, and cancels
  // (connect_handle.h); it may be ignored. Thread safe; throws std::system_error if no socket can
  // be created. Stopping the server cancels the connects still pending.
  template <std::derived_from<StreamConnection> Handler, typename... Args>
  ConnectHandle connect(const InetAddress& address, ConnectOptions options, Args... args) {
    check_shared_through_event_handler<Handler>();
    return connect(
        address, [args...] { return std::make_shared<Handler>(args...); }, std::move(options));
  }
  ConnectHandle connect(const InetAddress& address, ConnectionFactory factory,
                        ConnectOptions options = {});

  // Binds a UDP service: a Handler constructed from (`address`, copies of `args`), registered on
  // handle_set(). Returns it (send_to() is thread safe). Throws std::system_error.
  template <std::derived_from<DatagramHandler> Handler, typename... Args>
  std::shared_ptr<Handler> listen_udp(const InetAddress& address, Args... args) {
    check_shared_through_event_handler<Handler>();
    auto handler = std::make_shared<Handler>(address, args...);
    handle_set().register_handle(handler);
    return handler;
  }

  // Starts the threads and returns.
  void start();
  // Asks the server to stop; wait() or run() then shuts it down. Any thread, or a signal handler.
  void stop() noexcept;
  // Blocks until stop(), then shuts down gracefully: stop accepting, let connections finish and
  // flush their output (up to drain_timeout), close the rest, join the threads.
  void wait();
  // start() + wait().
  void run();

  // Reads the certificates of every TLS listener again (TlsContext::reload): handshakes from now
  // on get the new ones, established connections keep theirs. A context whose files fail to load
  // keeps its certificates and is logged as an ERROR naming the file; a reloaded one as INFO with
  // its certificates' subjects and expiry. False if any failed. Thread safe.
  bool reload_tls();

  // Where listeners and timers register (the only HandleSet except under reactor).
  [[nodiscard]] HandleSet& handle_set() noexcept { return dispatcher_->main_handle_set(); }
  [[nodiscard]] Dispatcher& dispatcher() noexcept { return *dispatcher_; }
  // The ThreadSet of the Leader/Followers models; throws std::logic_error under the others.
  [[nodiscard]] ThreadSet& thread_set();
  // Timers whose callbacks run on this server's threads. Thread safe.
  [[nodiscard]] TimerService& timers() noexcept { return *timers_; }
  // Open TCP connections, accepted or connected (registered StreamConnections). Thread safe, and
  // O(registered handlers): for monitoring, not for a hot path.
  [[nodiscard]] std::size_t connections() const;
  // Registered UDP services (DatagramHandlers). Thread safe, like connections().
  [[nodiscard]] std::size_t udp_handlers() const;
  // Connects made by connect() that have not connected, failed or been cancelled yet (backoff
  // included). Thread safe.
  [[nodiscard]] std::size_t pending_connects() const;

 private:
  void shut_down();
  // Catches SIGHUP for reload_tls() (ServerOptions::handle_signals), once the server has a TLS
  // listener and has started.
  void handle_reload_signal();
  // Sends `bits` to every handler but the timers and waits until none is left, or the deadline.
  bool notify_all_and_wait(std::uint32_t bits, std::chrono::steady_clock::time_point deadline);
  // What a stop waits for: registered handlers except the timer service and live listeners
  // (connections, UDP services, connect attempts, a user's own handlers).
  [[nodiscard]] std::size_t handlers_to_drain() const;
  // Registered handlers of type T, in every HandleSet.
  template <typename T>
  [[nodiscard]] std::size_t count_registered() const;

  ServerOptions options_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::shared_ptr<TimerService> timers_;
  UniqueFd stop_fd_;    // an eventfd: stop() and the signal handler write, wait() reads
  UniqueFd reload_fd_;  // an eventfd: SIGHUP's handler writes, wait() reads and reloads
  std::vector<std::shared_ptr<Acceptor>> acceptors_;
  // The listeners' TLS contexts, each once (listeners may share one), for reload_tls().
  std::mutex tls_mutex_;
  std::vector<std::shared_ptr<TlsContext>> tls_contexts_;
  // The connects made by connect(), so that a stop cancels the pending ones; settled ones are
  // dropped at the next connect().
  mutable std::mutex connects_mutex_;
  std::vector<std::shared_ptr<ConnectRequest>> connects_;
  bool started_ = false;
  bool finished_ = false;
  bool stop_signals_ = false;   // SIGINT/SIGTERM handlers installed by start(), removed by wait()
  bool reload_signal_ = false;  // SIGHUP's, likewise (under tls_mutex_)
  bool reload_signal_released_ = false;  // wait() put it back: a later listen() must not catch it
};

}  // namespace lf
