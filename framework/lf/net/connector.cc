#include "lf/net/connector.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <system_error>
#include <utility>

#include "lf/log/log.h"
#include "lf/net/connect_request.h"
#include "lf/net/stream_connection.h"
#include "lf/pattern/handle_set.h"
#include "lf/timer/timer_service.h"

namespace lf {

// An attempt that cannot even create its socket ends the whole connect.
void Connector::start_attempt(const std::shared_ptr<ConnectRequest>& request, int attempt) {
  if (request->status() != ConnectStatus::kPending) return;  // cancelled during the backoff
  if (attempt > 0 && request->timers().draining()) {
    request->stop();  // the server is stopping: a retry would register after the drain began
    return;
  }
  std::shared_ptr<Connector> connector;
  // A retry runs in a timer callback: whatever it throws must settle the connect, or it would
  // stay pending with nobody to report to.
  const auto give_up = [&](const char* what, int error) {
    if (attempt == 0) {
      request->stop();  // settled, so nothing counts it as pending; there is nothing to report to
      throw;            // connect()'s caller hears of it
    }
    LF_LOG_WARN("connect to {}: {}", request->address().to_string(), what);
    request->fail(error);
  };
  try {
    connector = std::make_shared<Connector>(request, attempt);
    connector->begin();
  } catch (const std::system_error& error) {
    give_up(error.what(), error.code().value());
    return;
  } catch (const std::exception& error) {
    give_up(error.what(), ENOMEM);
    return;
  }
  // A cancel that came before the attempt was attached did not see it: close it here.
  if (!request->attach(connector, attempt)) connector->notify(event::kClose);
}

ConnectHandle Connector::connect(HandleSet& handle_set, TimerService& timers,
                                 const InetAddress& address, ConnectionFactory factory,
                                 ConnectOptions options) {
  auto request = std::make_shared<ConnectRequest>(handle_set, timers, address, std::move(factory),
                                                  std::move(options));
  start(request);
  return ConnectHandle(std::move(request));
}

void Connector::start(const std::shared_ptr<ConnectRequest>& request) { start_attempt(request, 0); }

Connector::Connector(std::shared_ptr<ConnectRequest> request, int attempt)
    : request_(std::move(request)), attempt_(attempt) {}

std::uint32_t Connector::interest() const noexcept { return done_ ? 0u : event::kWritable; }

void Connector::begin() {
  const InetAddress& address = request_->address();
  socket_ = Socket::stream(address.family());
  if (::connect(socket_.fd(), address.sockaddr_ptr(), address.length()) != 0 &&
      errno != EINPROGRESS && errno != EINTR) {
    socket_error_ = errno;
  }
  // The timer is set before registration (which publishes timeout_timer_ to the threads); one
  // that fires before registration cannot notify yet, so it is looked at again below.
  if (socket_error_ == 0 && request_->options().timeout.count() > 0) {
    timeout_timer_ =
        request_->timers().run_after(request_->options().timeout, [weak = weak_from_this()] {
          if (auto self = std::static_pointer_cast<Connector>(weak.lock())) {
            self->timed_out_.store(true);
            self->notify(event::kTimer);
          }
        });
  }
  // Registered even when connect() already failed, so that success and failure are always
  // reported on a ThreadSet thread (a socket that connected at once reports EPOLLOUT at once).
  request_->handle_set().register_handle(shared_from_this());
  if (socket_error_ != 0) notify(event::kWake);
  if (timed_out_.load()) notify(event::kTimer);
}

void Connector::handle_event(std::uint32_t events) {
  if (done_) return;
  if (socket_error_ != 0) {
    fail(socket_error_);
  } else if ((events & (event::kWritable | event::kError | event::kHangUp)) != 0) {
    const int error = socket_.error();
    if (error != 0) {
      fail(error);
    } else {
      succeed();
    }
  } else if ((events & event::kTimer) != 0 && timed_out_.load()) {
    fail(ETIMEDOUT);
  }
}

bool Connector::finish() {
  if (done_) return false;
  done_ = true;
  if (timeout_timer_.valid()) request_->timers().cancel(std::exchange(timeout_timer_, TimerId{}));
  // Out of epoll before the socket changes hands (or is closed), so no stale event reaches it.
  if (HandleSet* set = handle_set()) set->remove_handle(*this);
  return true;
}

void Connector::succeed() {
  if (!finish()) return;
  try {
    Socket connected = std::move(socket_);
    connected.set_tcp_no_delay(true);
    // False when cancelled meanwhile: the socket is closed and no handler opened.
    request_->establish(std::move(connected));
  } catch (const std::exception& error) {
    abandon(error.what());
  } catch (...) {  // the factory is user code: it may throw anything
    abandon("an exception not derived from std::exception");
  }
}

void Connector::abandon(std::string_view why) {
  // The socket went to establish(), which closed it while the exception left.
  LF_LOG_WARN("connected to {} but could not open the connection: {}",
              request_->address().to_string(), why);
  request_->fail(ENOMEM);
}

void Connector::fail(int error) {
  if (!finish()) return;
  socket_.close();
  const ConnectOptions& options = request_->options();
  if (attempt_ >= options.retries) {
    LF_LOG_DEBUG("connect to {} failed after {} attempts: {}", request_->address().to_string(),
                 attempt_ + 1, std::generic_category().message(error));
    request_->fail(error);
    return;
  }
  // backoff * 2^attempt, computed without overflow.
  auto delay = options.backoff;
  for (int i = 0; i < attempt_ && delay < options.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options.max_backoff);
  TimerService& timers = request_->timers();
  const TimerId retry = timers.run_after(
      delay, [request = request_, next = attempt_ + 1] { start_attempt(request, next); });
  if (!request_->set_retry(retry)) timers.cancel(retry);  // cancelled meanwhile
}

void Connector::handle_close() {
  if (!finish()) return;
  socket_.close();
  if (request_->attempt_closed()) request_->report(ECANCELED);
}

}  // namespace lf
