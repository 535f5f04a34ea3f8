#include "lf/server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "lf/base/signals.h"
#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/net/connect_request.h"

namespace lf {

Server::Server(ServerOptions options)
    : options_(options),
      dispatcher_(make_dispatcher(options)),
      timers_(std::make_shared<TimerService>(options.timer_tick)),
      stop_fd_(::eventfd(0, EFD_CLOEXEC)),
      reload_fd_(::eventfd(0, EFD_CLOEXEC)) {
  if (!stop_fd_ || !reload_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  signals::ignore_sigpipe();
  handle_set().register_handle(timers_);
}

Server::~Server() {
  if (started_ && !finished_) {
    stop();
    wait();
  }
}

InetAddress Server::listen(const InetAddress& address, ConnectionFactory factory,
                           const ListenOptions& options) {
  HandleSetChooser choose;
  if (dispatcher_->handle_sets().size() > 1) {
    choose = [dispatcher = dispatcher_.get()]() -> HandleSet& {
      return dispatcher->handle_set_for_connection();
    };
  }
  auto acceptor = std::make_shared<Acceptor>(address, std::move(factory), options, timers_.get(),
                                             std::move(choose));
  handle_set().register_handle(acceptor);
  acceptors_.push_back(acceptor);
  if (options.tls != nullptr) {
    std::lock_guard lock(tls_mutex_);
    if (std::find(tls_contexts_.begin(), tls_contexts_.end(), options.tls) == tls_contexts_.end()) {
      tls_contexts_.push_back(options.tls);
    }
    if (started_) handle_reload_signal();  // a TLS listener added to a running server
  }
  return acceptor->address();
}

bool Server::reload_tls() {
  std::vector<std::shared_ptr<TlsContext>> contexts;
  {
    std::lock_guard lock(tls_mutex_);
    contexts = tls_contexts_;
  }
  if (contexts.empty()) LF_LOG_INFO("reload: no TLS listener, nothing to reload");
  bool all = true;
  for (const auto& context : contexts) {
    try {
      context->reload();
      metrics::add(metrics::Counter::kTlsReloads);
      LF_LOG_INFO("reload: TLS certificates loaded: {}", context->describe_certificates());
    } catch (const std::exception& error) {
      all = false;
      metrics::add(metrics::Counter::kTlsReloadFailures);
      LF_LOG_ERROR("reload failed, keeping the certificates in use ({}): {}",
                   context->describe_certificates(), error.what());
    }
  }
  return all;
}

void Server::start() {
  if (started_) return;
  started_ = true;
  // From start() on, not only while wait() blocks: a program that prints "listening" between
  // the two must not be killed by a SIGTERM sent the moment it says so.
  stop_signals_ = options_.handle_signals && signals::install_stop_handler(stop_fd_.get());
  {
    std::lock_guard lock(tls_mutex_);
    if (!tls_contexts_.empty()) handle_reload_signal();
  }
  dispatcher_->start();
}

void Server::handle_reload_signal() {
  // Called under tls_mutex_. Only with something to reload: a plaintext server keeps SIGHUP's
  // default (it ends, as when its terminal closes), as a muduo or Asio server does.
  // Not once wait() has put SIGHUP back: nobody would remove it again.
  if (options_.handle_signals && !reload_signal_ && !reload_signal_released_) {
    reload_signal_ = signals::install_reload_handler(reload_fd_.get());
  }
}

void Server::stop() noexcept {
  const std::uint64_t one = 1;
  // Retried on EINTR, or the stop request would be lost. errno is restored: this may run in a
  // signal handler.
  const int saved_errno = errno;
  while (::write(stop_fd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
  errno = saved_errno;
}

void Server::wait() {
  if (!started_ || finished_) return;
  // poll(), not read(): it returns EINTR whatever SA_RESTART says, so a signal whose handler
  // is deferred until the call returns (ThreadSanitizer does that) still gets to run.
  pollfd ready[2] = {{stop_fd_.get(), POLLIN, 0}, {reload_fd_.get(), POLLIN, 0}};
  std::uint64_t count = 0;
  while (true) {
    if (::poll(ready, 2, -1) < 0) {
      if (errno == EINTR) continue;  // the handler has written: poll again to see which fd
      break;
    }
    if ((ready[0].revents & POLLIN) != 0) break;
    if ((ready[1].revents & POLLIN) != 0) {
      [[maybe_unused]] const auto n = ::read(reload_fd_.get(), &count, sizeof count);
      LF_LOG_INFO("SIGHUP: reloading the TLS certificates");
      (void)reload_tls();
    }
  }
  [[maybe_unused]] const auto n = ::read(stop_fd_.get(), &count, sizeof count);
  bool reload_signal = false;
  {
    std::lock_guard lock(tls_mutex_);
    reload_signal = std::exchange(reload_signal_, false);
    reload_signal_released_ = true;
  }
  if (reload_signal) signals::remove_reload_handler(reload_fd_.get());
  if (std::exchange(stop_signals_, false)) signals::remove_stop_handler(stop_fd_.get());
  shut_down();
}

void Server::run() {
  start();
  wait();
}

ThreadSet& Server::thread_set() {
  ThreadSet* threads = dispatcher_->thread_set();
  if (threads == nullptr) {
    throw std::logic_error("Server::thread_set(): not a Leader/Followers model");
  }
  return *threads;
}

ConnectHandle Server::connect(const InetAddress& address, ConnectionFactory factory,
                              ConnectOptions options) {
  auto request = std::make_shared<ConnectRequest>(handle_set(), timers(), address,
                                                  std::move(factory), std::move(options));
  Connector::start(request);
  std::lock_guard lock(connects_mutex_);
  std::erase_if(connects_, [](const auto& r) { return r->status() != ConnectStatus::kPending; });
  connects_.push_back(request);
  return ConnectHandle(std::move(request));
}

std::size_t Server::pending_connects() const {
  std::lock_guard lock(connects_mutex_);
  return static_cast<std::size_t>(
      std::count_if(connects_.begin(), connects_.end(),
                    [](const auto& r) { return r->status() == ConnectStatus::kPending; }));
}

std::size_t Server::handlers_to_drain() const {
  const HandleSet& main = dispatcher_->main_handle_set();
  std::size_t internal = main.contains(*timers_) ? 1 : 0;
  for (const auto& acceptor : acceptors_) internal += main.contains(*acceptor) ? 1 : 0;
  std::size_t registered = 0;
  for (const HandleSet* set : dispatcher_->handle_sets()) registered += set->size();
  return registered > internal ? registered - internal : 0;
}

// By type rather than by subtracting what is not a connection: connect attempts and UDP services
// are registered handlers too, and they come and go on other threads.
template <typename T>
std::size_t Server::count_registered() const {
  std::size_t count = 0;
  for (const HandleSet* set : dispatcher_->handle_sets()) {
    for (const auto& handler : set->handlers()) {
      if (dynamic_cast<const T*>(handler.get()) != nullptr) ++count;
    }
  }
  return count;
}

std::size_t Server::connections() const { return count_registered<StreamConnection>(); }

std::size_t Server::udp_handlers() const { return count_registered<DatagramHandler>(); }

bool Server::notify_all_and_wait(std::uint32_t bits,
                                 std::chrono::steady_clock::time_point deadline) {
  for (HandleSet* set : dispatcher_->handle_sets()) {
    for (const auto& handler : set->handlers()) {
      if (handler != timers_) handler->notify(bits);
    }
  }
  while (handlers_to_drain() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void Server::shut_down() {
  finished_ = true;
  const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  // Stop accepting first, so that no connection arrives after the others were told to drain.
  for (const auto& acceptor : acceptors_) acceptor->notify(event::kClose);
  const auto listening = [this] {
    for (const auto& acceptor : acceptors_) {
      if (handle_set().contains(*acceptor)) return true;
    }
    return false;
  };
  while (listening() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Pending connects next: an attempt in flight closes (on_failure hears ECANCELED) and a retry
  // waiting for its backoff never starts, so no attempt registers while the others drain. The
  // TimerService's flag stops the retries of connects the Server does not know (a handler's own
  // Connector::connect, as lf-proxy's).
  timers_->set_draining();
  {
    std::lock_guard lock(connects_mutex_);
    for (const auto& request : connects_) request->stop();
    connects_.clear();
  }
  if (!notify_all_and_wait(event::kDrain, deadline)) {
    LF_LOG_WARN("drain deadline ({} ms) passed with {} handlers still open: closing them",
                options_.drain_timeout.count(), handlers_to_drain());
    notify_all_and_wait(event::kClose,
                        std::chrono::steady_clock::now() + std::chrono::milliseconds(1000));
  }
  dispatcher_->stop();
  dispatcher_->join();
  // Threads are gone: whatever is left (a handler stuck until now) is closed from here.
  for (HandleSet* set : dispatcher_->handle_sets()) {
    for (const auto& handler : set->handlers()) handler->process(event::kClose);
    set->release_pending();
  }
  acceptors_.clear();
  log::flush();  // a stopped server has nothing left unwritten
}

}  // namespace lf
