#include "lf/connector.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <system_error>
#include <utility>

#include "lf/handle_set.h"
#include "lf/log.h"
#include "lf/stream_connection.h"
#include "lf/timer_service.h"

namespace lf {

// An attempt that cannot even create its socket ends the whole connect().
void Connector::start_attempt(const std::shared_ptr<const Plan>& plan, int attempt) {
  auto connector = std::make_shared<Connector>(plan, attempt);
  try {
    connector->start();
  } catch (const std::system_error& error) {
    if (attempt == 0) throw;  // connect()'s caller hears of it
    LF_LOG_WARN("connect to {}: {}", plan->address.to_string(), error.what());
    if (plan->options.on_failure) plan->options.on_failure(plan->address, error.code().value());
  }
}

void Connector::connect(HandleSet& handle_set, TimerService& timers, const InetAddress& address,
                        ConnectionFactory factory, ConnectOptions options) {
  start_attempt(std::make_shared<const Plan>(
                    Plan{&handle_set, &timers, address, std::move(factory), std::move(options)}),
                0);
}

Connector::Connector(std::shared_ptr<const Plan> plan, int attempt)
    : plan_(std::move(plan)), attempt_(attempt) {}

std::uint32_t Connector::interest() const noexcept { return done_ ? 0u : event::kWritable; }

void Connector::start() {
  socket_ = Socket::stream(plan_->address.family());
  if (::connect(socket_.fd(), plan_->address.sockaddr_ptr(), plan_->address.length()) != 0 &&
      errno != EINPROGRESS && errno != EINTR) {
    socket_error_ = errno;
  }
  // The timer is set before registration (which publishes timeout_timer_ to the threads); one
  // that fires before registration cannot notify yet, so it is looked at again below.
  if (socket_error_ == 0 && plan_->options.timeout.count() > 0) {
    timeout_timer_ = plan_->timers->run_after(plan_->options.timeout, [weak = weak_from_this()] {
      if (auto self = std::static_pointer_cast<Connector>(weak.lock())) {
        self->timed_out_.store(true);
        self->notify(event::kTimer);
      }
    });
  }
  // Registered even when connect() already failed, so that success and failure are always
  // reported on a ThreadSet thread (a socket that connected at once reports EPOLLOUT at once).
  plan_->handle_set->register_handle(shared_from_this());
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
  if (timeout_timer_.valid()) plan_->timers->cancel(std::exchange(timeout_timer_, TimerId{}));
  // Out of epoll before the socket changes hands (or is closed), so no stale event reaches it.
  if (HandleSet* set = handle_set()) set->remove_handle(*this);
  return true;
}

void Connector::succeed() {
  if (!finish()) return;
  try {
    std::shared_ptr<StreamConnection> connection = plan_->factory();
    Socket connected = std::move(socket_);
    connected.set_tcp_no_delay(true);
    connection->open(std::move(connected), *plan_->handle_set,
                     ConnectionOptions{.idle_timeout = std::chrono::milliseconds(0),
                                       .timers = plan_->timers});
  } catch (const std::exception& error) {
    LF_LOG_WARN("connected to {} but could not open the connection: {}",
                plan_->address.to_string(), error.what());
    socket_.close();
    if (plan_->options.on_failure) plan_->options.on_failure(plan_->address, ENOMEM);
  }
}

void Connector::fail(int error) {
  if (!finish()) return;
  socket_.close();
  const ConnectOptions& options = plan_->options;
  if (attempt_ >= options.retries) {
    LF_LOG_DEBUG("connect to {} failed after {} attempts: {}", plan_->address.to_string(),
                 attempt_ + 1, std::generic_category().message(error));
    if (options.on_failure) options.on_failure(plan_->address, error);
    return;
  }
  // backoff * 2^attempt, computed without overflow.
  auto delay = options.backoff;
  for (int i = 0; i < attempt_ && delay < options.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options.max_backoff);
  plan_->timers->run_after(delay, [plan = plan_, next = attempt_ + 1] {
    start_attempt(plan, next);
  });
}

void Connector::handle_close() {
  if (!finish()) return;
  socket_.close();
  if (plan_->options.on_failure) plan_->options.on_failure(plan_->address, ECANCELED);
}

}  // namespace lf
