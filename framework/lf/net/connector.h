// Public. Connector: opens an outgoing TCP connection (IPv4 or IPv6) as a StreamConnection on a
// HandleSet, so clients and proxies use the same handler classes as servers. Non-blocking
// connect completed by EPOLLOUT and SO_ERROR, a timeout per attempt, and retries with exponential
// backoff. Connector::connect() (or Server::connect()) is thread safe and returns a ConnectHandle
// (status, the connection, cancel); a Connector object is one attempt and runs on ThreadSet
// threads like any handler.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lf/net/connect_handle.h"
#include "lf/net/connection_factory.h"
#include "lf/net/inet_address.h"
#include "lf/net/socket.h"
#include "lf/pattern/event_handler.h"
#include "lf/timer/timer_wheel.h"

namespace lf {

class ConnectRequest;
class HandleSet;
class TimerService;
class TlsContext;

// How Connector::connect() tries (a value type, copied into the connect).
struct ConnectOptions {
  // Each attempt fails with ETIMEDOUT after this long (0: only the kernel's own timeout).
  std::chrono::milliseconds timeout{5000};
  // Attempts after the first one fails.
  int retries = 0;
  // Delay before the first retry; it doubles for each further retry, up to max_backoff.
  std::chrono::milliseconds backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  // Called once, on a ThreadSet thread, when the last attempt failed (errno value, such as
  // ECONNREFUSED or ETIMEDOUT; ECANCELED when the server stopped during an attempt). May be
  // empty. Not called after ConnectHandle::cancel(). A retry still waiting for its backoff when
  // the server stops is dropped unreported (its handle says kCancelled).
  std::function<void(const InetAddress& address, int error)> on_failure;

  // TLS (a context from TlsContext::create_client(), else connect() throws
  // std::invalid_argument; null: plaintext). Once TCP connects, the
  // handshake runs inside the connection's events; the connect settles only when it ends:
  // kConnected and then on_connect() after a good handshake, else kFailed with EPROTO (refused:
  // a bad certificate, wrong name, no common protocol; ConnectHandle::failure() and the log say
  // why), ETIMEDOUT (handshake_timeout) or the socket's error when the server hangs up or resets
  // (ECONNRESET, EPIPE), and on_failure called; the handler never
  // sees it. A failed handshake is not retried: the same certificate would fail again.
  std::shared_ptr<TlsContext> tls{};
  // The name the certificate must carry, also sent as SNI. Empty: the certificate must name
  // the IP address connected to (what curl does for https://127.0.0.1/); no SNI is sent.
  std::string server_name{};
  std::chrono::milliseconds handshake_timeout{10000};
};

class Connector : public EventHandler {
 public:
  // Starts connecting to `address`; on success the connection made by `factory` (never null)
  // is opened on `handle_set` (its on_connect() runs first) with `timers` as its timer service.
  // Thread safe. Throws std::system_error if the first socket cannot be created.
  static ConnectHandle connect(HandleSet& handle_set, TimerService& timers,
                               const InetAddress& address, ConnectionFactory factory,
                               ConnectOptions options = {});
  // The same for a request made by the caller (Server::connect() keeps it to stop it).
  static void start(const std::shared_ptr<ConnectRequest>& request);

  // Internal to the Connector, public for make_shared.
  Connector(std::shared_ptr<ConnectRequest> request, int attempt);

  [[nodiscard]] int handle() const noexcept override { return socket_.fd(); }
  void handle_event(std::uint32_t events) override;
  // Server stop or ConnectHandle::cancel(): gives up (on_failure gets ECANCELED on a server stop).
  void handle_close() override;
  [[nodiscard]] std::uint32_t interest() const noexcept override;

 private:
  // Creates attempt number `attempt` and starts it.
  static void start_attempt(const std::shared_ptr<ConnectRequest>& request, int attempt);
  // Creates the socket, calls connect() and registers for EPOLLOUT.
  void begin();
  void succeed();
  // Connected, but the handler could not be made or opened (`why`): the connect fails.
  void abandon(std::string_view why);
  // This attempt failed: retry after the backoff, or report the failure.
  void fail(int error);
  // Leaves the HandleSet and cancels the timer; false if the attempt had already finished.
  bool finish();

  std::shared_ptr<ConnectRequest> request_;
  int attempt_;  // 0 for the first attempt
  Socket socket_;
  TimerId timeout_timer_;
  int socket_error_ = 0;                // connect() failed at once (written before registration)
  std::atomic<bool> timed_out_{false};  // set by the timer callback before it notifies kTimer
  bool done_ = false;                   // owned by the processing thread (and start())
};

}  // namespace lf
