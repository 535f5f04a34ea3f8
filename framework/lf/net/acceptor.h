// Public. Acceptor: the event handler of a listening socket. Accepts connections with accept4
// and opens one StreamConnection (from a factory) per connection on the same HandleSet (or the
// one a HandleSetChooser picks).
// Runs like any handler; the counters are thread safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "lf/base/unique_fd.h"
#include "lf/net/connection_factory.h"
#include "lf/net/inet_address.h"
#include "lf/net/socket.h"
#include "lf/pattern/event_handler.h"

namespace lf {

class HandleSet;
class StreamConnection;
class TimerService;
class TlsContext;

// A listener: its socket (reuse_port, backlog, v6_only: Socket's ListenSocketOptions) and its
// policy for the connections it accepts (a value type, read by the Acceptor).
struct ListenOptions {
  bool reuse_port = false;  // SO_REUSEPORT: several processes or sockets share the port
  int backlog = SOMAXCONN;
  bool v6_only = false;     // IPV6_V6ONLY for "::" listeners
  // Connections with no traffic for this long are closed (0: never).
  std::chrono::milliseconds idle_timeout{0};
  // Open connections this listener keeps at most (0: no limit); beyond it a new connection is
  // closed at once and counted as rejected (Acceptor::rejected(), metrics).
  std::size_t max_connections = 0;
  // Serve TLS with this context (null: plaintext; one from TlsContext::create, or listening
  // throws std::invalid_argument). The same handler runs unchanged: on_connect() after the
  // handshake, on_message() with the plaintext.
  std::shared_ptr<TlsContext> tls{};
  // A TLS handshake not complete after this long is abandoned and the connection closed
  // (0: never).
  std::chrono::milliseconds handshake_timeout{10000};
};

// Picks the HandleSet a new connection registers with (the reactor model's round robin).
using HandleSetChooser = std::function<HandleSet&()>;

class Acceptor : public EventHandler {
 public:
  // Binds and listens at once (throws std::system_error); register it with a HandleSet to
  // start accepting. `timers` serves the idle timeout (may be null when there is none).
  // Connections register with the HandleSet `choose` returns; without one, with the Acceptor's.
  Acceptor(const InetAddress& address, ConnectionFactory factory, const ListenOptions& options,
           TimerService* timers = nullptr, HandleSetChooser choose = {});

  // The bound address (with the real port when asked for port 0).
  [[nodiscard]] const InetAddress& address() const noexcept { return address_; }
  [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_.load(); }
  // Connections closed at once: the process ran out of file descriptors, or the listener was at
  // ListenOptions::max_connections.
  [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_.load(); }

  [[nodiscard]] int handle() const noexcept override { return socket_.fd(); }
  void handle_event(std::uint32_t events) override;
  void handle_close() override;

 private:
  // Accepts per event before others get a turn (level triggered: the rest is reported again).
  static constexpr int kMaxAcceptsPerEvent = 64;

  // Out of descriptors: free the spare, accept and close one pending connection, take the spare
  // back. Without it the pending connection stays in the queue and epoll reports it forever.
  // False when nothing was pending (or the spare is gone).
  bool reject_one() noexcept;
  // Counts a connection against max_connections until the returned slot is released.
  [[nodiscard]] std::shared_ptr<void> take_slot();

  Socket socket_;
  InetAddress address_;
  ConnectionFactory factory_;
  std::chrono::milliseconds idle_timeout_;
  std::shared_ptr<TlsContext> tls_;
  std::chrono::milliseconds handshake_timeout_;
  TimerService* timers_;
  HandleSetChooser choose_;
  UniqueFd spare_fd_;
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> rejected_{0};
  // ListenOptions::max_connections, and the connections open now (shared with their slots).
  std::size_t max_connections_;
  std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace lf
