// Internal. ConnectRequest: what the attempts (Connector objects, on server threads) of one
// connect share with its ConnectHandles (any thread): where and how to connect, and the outcome.
// The status leaves kPending once, under the mutex, so a cancel and a completing attempt cannot
// both win. Thread safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "lf/net/connect_handle.h"
#include "lf/net/connection_factory.h"
#include "lf/net/connector.h"
#include "lf/net/inet_address.h"
#include "lf/net/socket.h"
#include "lf/timer/timer_wheel.h"

namespace lf {

class EventHandler;
class HandleSet;
class TimerService;

class ConnectRequest : public std::enable_shared_from_this<ConnectRequest> {
 public:
  ConnectRequest(HandleSet& handle_set, TimerService& timers, const InetAddress& address,
                 ConnectionFactory factory, ConnectOptions options);
  // A connect still pending here was dropped with its server (a retry that never ran).
  ~ConnectRequest();
  ConnectRequest(const ConnectRequest&) = delete;
  ConnectRequest& operator=(const ConnectRequest&) = delete;

  [[nodiscard]] HandleSet& handle_set() const noexcept { return handle_set_; }
  [[nodiscard]] TimerService& timers() const noexcept { return timers_; }
  [[nodiscard]] const InetAddress& address() const noexcept { return address_; }
  [[nodiscard]] const ConnectOptions& options() const noexcept { return options_; }

  [[nodiscard]] ConnectStatus status() const;
  [[nodiscard]] int error() const;
  [[nodiscard]] std::shared_ptr<StreamConnection> connection() const;
  // Why the connect failed, in words (ConnectHandle::failure()).
  [[nodiscard]] std::string failure() const;

  // For the attempts. Makes `attempt` (number `number`, 0 first) the one that cancel() closes,
  // unless a later attempt is already attached; false if the connect is no longer pending (the
  // caller closes the attempt itself).
  [[nodiscard]] bool attach(const std::shared_ptr<EventHandler>& attempt, int number);
  // Remembers the timer that starts the next attempt; false if no longer pending (the caller
  // cancels the timer).
  [[nodiscard]] bool set_retry(TimerId retry);
  // Opens a connection from the factory on `socket` and settles as connected. False when the
  // connect was cancelled first: no handler is opened and the socket closes. Throws what the
  // factory or StreamConnection::open() throws (the connect is still pending then).
  // Over TLS the connection opens at once but the connect stays pending (cancel() closes the
  // connection) until its handshake ends (handshake_ended).
  bool establish(Socket socket);
  // Settles as failed with `error` and tells on_failure, unless the connect has already settled.
  void fail(int error);
  // The attempt in flight was closed by cancel(), stop() or a server drain. Settles as cancelled;
  // true when on_failure must hear ECANCELED (the server stopped, not the caller's cancel()).
  [[nodiscard]] bool attempt_closed();
  void report(int error) const noexcept;

  // A caller's cancel (ConnectHandle): not reported to on_failure.
  void cancel() { cancel(/*by_caller=*/true); }
  // The server stops: an attempt in flight reports ECANCELED; a retry waiting for its backoff is
  // dropped unreported (the server's threads may be gone before it could run).
  void stop() { cancel(/*by_caller=*/false); }

 private:
  // Leaves kPending; false if it had already left. Call with mutex_ held.
  bool settle(ConnectStatus status, int error);
  // The TLS handshake of `connection` ended (ConnectionOptions::on_handshake): settles the
  // connect; true if the connection may go on to on_connect().
  bool handshake_ended(const std::weak_ptr<StreamConnection>& connection, int error,
                       std::string_view why);
  void cancel(bool by_caller);

  HandleSet& handle_set_;
  TimerService& timers_;
  // Expires with the Server's TimerService: a handle may outlive it and must not cancel then.
  std::weak_ptr<EventHandler> timers_alive_;
  const InetAddress address_;
  const ConnectOptions options_;

  mutable std::mutex mutex_;
  ConnectionFactory factory_;  // dropped once settled, with the arguments it holds
  ConnectStatus status_ = ConnectStatus::kPending;
  int error_ = 0;
  std::string failure_;  // a TLS failure's reason
  bool cancelled_by_caller_ = false;
  std::weak_ptr<EventHandler> attempt_;  // the Connector in flight, if any
  int attempt_number_ = -1;              // its number (0: the first)
  TimerId retry_;                        // the timer of the next attempt, if one waits
  std::weak_ptr<StreamConnection> connection_;
};

}  // namespace lf
