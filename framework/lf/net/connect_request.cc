#include "lf/net/connect_request.h"

#include <cerrno>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/net/stream_connection.h"
#include "lf/net/tls_context.h"
#include "lf/pattern/event_handler.h"
#include "lf/timer/timer_service.h"

namespace lf {

ConnectRequest::ConnectRequest(HandleSet& handle_set, TimerService& timers,
                               const InetAddress& address, ConnectionFactory factory,
                               ConnectOptions options)
    : handle_set_(handle_set),
      timers_(timers),
      timers_alive_(timers.weak_from_this()),
      address_(address),
      options_(std::move(options)),
      factory_(std::move(factory)) {
  // A server context would make both ends wait for a ClientHello until the handshake timeout.
  if (options_.tls != nullptr && !options_.tls->is_client()) {
    throw std::invalid_argument(
        "ConnectOptions::tls: a server context (TlsContext::create); a connect needs one from "
        "TlsContext::create_client");
  }
  metrics::add(metrics::Counter::kConnectsStarted);
}

ConnectRequest::~ConnectRequest() {
  if (status_ == ConnectStatus::kPending) metrics::add(metrics::Counter::kConnectsSettled);
}

bool ConnectRequest::settle(ConnectStatus status, int error) {
  if (status_ != ConnectStatus::kPending) return false;
  status_ = status;
  error_ = error;
  // The arguments the factory copied (shared state, say) are not kept alive by a handle.
  factory_ = nullptr;
  metrics::add(metrics::Counter::kConnectsSettled);
  return true;
}

ConnectStatus ConnectRequest::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

int ConnectRequest::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::shared_ptr<StreamConnection> ConnectRequest::connection() const {
  std::lock_guard lock(mutex_);
  return connection_.lock();
}

bool ConnectRequest::attach(const std::shared_ptr<EventHandler>& attempt, int number) {
  std::lock_guard lock(mutex_);
  if (status_ != ConnectStatus::kPending) return false;
  // An attempt whose thread was held up may attach after the next one: keep the newer.
  if (number >= attempt_number_) {
    attempt_ = attempt;
    attempt_number_ = number;
  }
  return true;
}

bool ConnectRequest::set_retry(TimerId retry) {
  std::lock_guard lock(mutex_);
  if (status_ != ConnectStatus::kPending) return false;
  retry_ = retry;
  return true;
}

bool ConnectRequest::establish(Socket socket) {
  ConnectionFactory factory;
  {
    std::lock_guard lock(mutex_);
    if (status_ != ConnectStatus::kPending) return false;
    factory = factory_;
  }
  // The handler's constructor is user code: it runs outside the lock.
  std::shared_ptr<StreamConnection> connection = factory();
  std::lock_guard lock(mutex_);
  if (status_ != ConnectStatus::kPending) return false;  // cancelled meanwhile: never opened
  // Opened under the lock, so that a cancel() either comes first (and no handler opens) or
  // finds the connect established. open() only registers the handle; on_connect() runs later,
  // on a server thread, so no hook runs under this lock.
  ConnectionOptions options{.idle_timeout = std::chrono::milliseconds(0), .timers = &timers_};
  if (options_.tls != nullptr) {
    options.tls = options_.tls;
    options.handshake_timeout = options_.handshake_timeout;
    options.server_name = options_.server_name;
    // The request lives as long as the handshake (the connection drops this once it is told).
    options.on_handshake =
        [self = shared_from_this(), weak = std::weak_ptr<StreamConnection>(connection)](
            int error, std::string_view why) { return self->handshake_ended(weak, error, why); };
    connection->open(std::move(socket), handle_set_, options);
    attempt_ = connection;  // cancel() closes it until the handshake ends
    // The handshake is the last attempt. The Connector that got here attaches itself after it
    // registered, so it may come later still (its connect finished on another thread first): it
    // must not take the handshake's place, or a cancel would close the finished Connector and
    // leave the handshake running.
    attempt_number_ = std::numeric_limits<int>::max();
    return true;
  }
  connection->open(std::move(socket), handle_set_, options);
  connection_ = connection;
  attempt_.reset();
  settle(ConnectStatus::kConnected, 0);
  return true;
}

bool ConnectRequest::handshake_ended(const std::weak_ptr<StreamConnection>& connection, int error,
                                     std::string_view why) {
  bool report_it = false;
  int reported = error;
  {
    std::lock_guard lock(mutex_);
    attempt_.reset();
    if (error == 0) {
      if (status_ != ConnectStatus::kPending) return false;  // cancelled meanwhile
      connection_ = connection;
      settle(ConnectStatus::kConnected, 0);
      return true;
    }
    if (settle(error == ECANCELED ? ConnectStatus::kCancelled : ConnectStatus::kFailed, error)) {
      failure_ = why;
      report_it = true;
    } else if (status_ == ConnectStatus::kCancelled && !cancelled_by_caller_) {
      report_it = true;  // the server stopped: on_failure hears ECANCELED, as from a Connector
      reported = ECANCELED;
    }
  }
  if (report_it) report(reported);
  return false;
}

std::string ConnectRequest::failure() const {
  std::lock_guard lock(mutex_);
  if (status_ != ConnectStatus::kFailed) return {};
  return failure_.empty() ? std::generic_category().message(error_) : failure_;
}

void ConnectRequest::fail(int error) {
  {
    std::lock_guard lock(mutex_);
    if (!settle(ConnectStatus::kFailed, error)) return;
    attempt_.reset();
  }
  report(error);
}

bool ConnectRequest::attempt_closed() {
  std::lock_guard lock(mutex_);
  attempt_.reset();
  // Still pending: the server drained the attempt without stop() (a connect made with
  // Connector::connect() directly, which no Server tracks).
  if (settle(ConnectStatus::kCancelled, ECANCELED)) return true;
  return status_ == ConnectStatus::kCancelled && !cancelled_by_caller_;
}

void ConnectRequest::report(int error) const noexcept {
  if (!options_.on_failure) return;
  // Caught here: it runs inside a connection's close, a Connector's event or a server's stop, none
  // of which may be left half done by the caller's callback.
  const auto threw = [this](std::string_view what) noexcept {
    metrics::add(metrics::Counter::kHandlerExceptions);
    LF_LOG_ERROR("connect to {}: on_failure threw: {}", address_.to_string(), what);
  };
  try {
    options_.on_failure(address_, error);
  } catch (const std::exception& e) {
    threw(e.what());
  } catch (...) {
    threw("an exception not derived from std::exception");
  }
}

void ConnectRequest::cancel(bool by_caller) {
  std::shared_ptr<EventHandler> attempt;
  TimerId retry;
  {
    std::lock_guard lock(mutex_);
    if (!settle(ConnectStatus::kCancelled, ECANCELED)) return;
    cancelled_by_caller_ = by_caller;
    attempt = attempt_.lock();
    retry = std::exchange(retry_, TimerId{});
  }
  if (retry.valid()) {
    // A retry that starts anyway finds the connect cancelled and does nothing.
    if (const auto alive = timers_alive_.lock()) timers_.cancel(retry);
  }
  // The attempt closes its socket on a server thread, where it runs (Connector::handle_close).
  if (attempt) attempt->notify(event::kClose);
}

}  // namespace lf
