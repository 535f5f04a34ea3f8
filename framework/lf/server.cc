#include "lf/server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <thread>

#include "lf/log.h"
#include "lf/signals.h"

namespace lf {

Server::Server(ServerOptions options)
    : options_(options),
      handle_set_(options.suspension),
      thread_set_(handle_set_, ThreadSetOptions{options.threads, options.follower_spin}),
      timers_(std::make_shared<TimerService>(options.timer_tick)),
      stop_fd_(::eventfd(0, EFD_CLOEXEC)) {
  if (!stop_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  signals::ignore_sigpipe();
  handle_set_.register_handle(timers_);
}

Server::~Server() {
  if (started_ && !finished_) {
    stop();
    wait();
  }
}

InetAddress Server::listen(const InetAddress& address, ConnectionFactory factory,
                           const ListenOptions& options) {
  auto acceptor = std::make_shared<Acceptor>(address, std::move(factory), options, timers_.get());
  handle_set_.register_handle(acceptor);
  acceptors_.push_back(acceptor);
  return acceptor->address();
}

void Server::start() {
  if (started_) return;
  started_ = true;
  thread_set_.start();
}

void Server::stop() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(stop_fd_.get(), &one, sizeof one);
}

void Server::wait() {
  if (!started_ || finished_) return;
  const bool signals_installed =
      options_.handle_signals && signals::install_stop_handler(stop_fd_.get());
  // poll(), not read(): it returns EINTR whatever SA_RESTART says, so a signal whose handler
  // is deferred until the call returns (ThreadSanitizer does that) still gets to run.
  pollfd ready{stop_fd_.get(), POLLIN, 0};
  while (::poll(&ready, 1, -1) < 0 && errno == EINTR) {
  }
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(stop_fd_.get(), &count, sizeof count);
  if (signals_installed) signals::remove_stop_handler(stop_fd_.get());
  shut_down();
}

void Server::run() {
  start();
  wait();
}

std::size_t Server::internal_handlers() const {
  std::size_t count = handle_set_.contains(*timers_) ? 1 : 0;
  for (const auto& acceptor : acceptors_) count += handle_set_.contains(*acceptor) ? 1 : 0;
  return count;
}

std::size_t Server::connections() const {
  const std::size_t internal = internal_handlers();
  const std::size_t registered = handle_set_.size();
  return registered > internal ? registered - internal : 0;
}

bool Server::notify_all_and_wait(std::uint32_t bits,
                                 std::chrono::steady_clock::time_point deadline) {
  for (const auto& handler : handle_set_.handlers()) {
    if (handler != timers_) handler->notify(bits);
  }
  while (connections() > 0) {
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
      if (handle_set_.contains(*acceptor)) return true;
    }
    return false;
  };
  while (listening() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!notify_all_and_wait(event::kDrain, deadline)) {
    notify_all_and_wait(event::kClose,
                        std::chrono::steady_clock::now() + std::chrono::milliseconds(1000));
  }
  thread_set_.stop();
  thread_set_.join();
  // Threads are gone: whatever is left (a handler stuck until now) is closed from here.
  for (const auto& handler : handle_set_.handlers()) handler->handle_close();
  handle_set_.release_pending();
  acceptors_.clear();
  log::flush();  // a stopped server has nothing left unwritten
}

}  // namespace lf
