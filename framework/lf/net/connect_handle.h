// Public. ConnectHandle: what Server::connect() and Connector::connect() return, to follow and
// control one outgoing connect: its status, the connection once it is established, cancel() and
// disconnect() (muduo's TcpClient::stop() and disconnect()). Copies refer to the same connect.
// Thread safe; ignoring it is fine (the connect goes on).
#pragma once

#include <memory>
#include <string>

namespace lf {

class ConnectRequest;
class StreamConnection;

enum class ConnectStatus {
  kPending,    // an attempt is in flight, or a retry waits for its backoff
  kConnected,  // the connection was opened (it may have closed since)
  kFailed,     // the last attempt failed (error() says why); on_failure was called
  kCancelled,  // cancel() or disconnect() before it connected, or the server stopped
};

class ConnectHandle {
 public:
  // Refers to no connect: status() is kCancelled, connection() null, cancel() does nothing.
  ConnectHandle() = default;
  explicit ConnectHandle(std::shared_ptr<ConnectRequest> request) noexcept;

  [[nodiscard]] ConnectStatus status() const;
  // The errno value of a failure (ECONNREFUSED, ETIMEDOUT, ...), ECANCELED once cancelled, else 0.
  [[nodiscard]] int error() const;
  // Why it failed, in words: over TLS, OpenSSL's reason ("the server's certificate was
  // rejected: certificate has expired ..."); else error()'s text. Empty unless kFailed.
  [[nodiscard]] std::string failure() const;
  // The established connection: null while pending, after a failure or a cancel, and once the
  // closed connection has been freed (the handle does not keep it alive; connected() tells
  // whether it is still open). Its thread-safe calls (send(), shutdown(), ...) may be used.
  [[nodiscard]] std::shared_ptr<StreamConnection> connection() const;

  // Stops a pending connect: the attempt in flight is closed (its socket is released on a server
  // thread), no retry follows, no handler is opened and on_failure is not called. An established
  // connection is left open, as muduo's TcpClient::stop() does: that is disconnect()'s job.
  void cancel();
  // cancel(), and shutdown() of the established connection: it sends what is queued, half-closes
  // and closes once the peer closes.
  void disconnect();

 private:
  std::shared_ptr<ConnectRequest> request_;
};

}  // namespace lf
