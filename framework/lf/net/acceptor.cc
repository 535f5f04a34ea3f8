#include "lf/net/acceptor.h"

#include <fcntl.h>

#include <cerrno>
#include <exception>
#include <stdexcept>

#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/net/stream_connection.h"
#include "lf/net/tls_context.h"
#include "lf/pattern/handle_set.h"

namespace lf {

namespace {
UniqueFd open_spare() noexcept { return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }
}  // namespace

Acceptor::Acceptor(const InetAddress& address, ConnectionFactory factory,
                   const ListenOptions& options, TimerService* timers, HandleSetChooser choose)
    : socket_(Socket::listen(address, ListenSocketOptions{.reuse_port = options.reuse_port,
                                                          .backlog = options.backlog,
                                                          .v6_only = options.v6_only})),
      address_(InetAddress::local_of(socket_.fd())),
      factory_(std::move(factory)),
      idle_timeout_(options.idle_timeout),
      tls_(options.tls),
      handshake_timeout_(options.handshake_timeout),
      timers_(timers),
      choose_(std::move(choose)),
      spare_fd_(open_spare()),
      max_connections_(options.max_connections) {
  // A connect-side context would run client handshakes on accepted sockets: both ends would wait
  // for a ServerHello until the handshake timeout.
  if (tls_ != nullptr && tls_->is_client()) {
    throw std::invalid_argument(
        "ListenOptions::tls: a client context (TlsContext::create_client); a listener needs one "
        "from TlsContext::create");
  }
}

void Acceptor::handle_event(std::uint32_t /*events*/) {
  if (!socket_.valid()) return;
  for (int i = 0; i < kMaxAcceptsPerEvent; ++i) {
    Socket connection = socket_.accept(nullptr);
    if (!connection.valid()) {
      const int error = errno;
      if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
      if ((error == EMFILE || error == ENFILE) && reject_one()) continue;
      return;  // EAGAIN: drained; anything else: retried when reported again
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    if (max_connections_ != 0 && open_->load(std::memory_order_relaxed) >= max_connections_) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      metrics::add(metrics::Counter::kConnectionsRejected);
      continue;  // `connection` closes here
    }
    connection.set_tcp_no_delay(true);
    try {
      HandleSet& target = choose_ ? choose_() : *handle_set();
      factory_()->open(std::move(connection), target,
                       ConnectionOptions{.idle_timeout = idle_timeout_, .timers = timers_,
                                         .slot = take_slot(),
                                         .tls = tls_,
                                         .handshake_timeout = handshake_timeout_});
    } catch (const std::exception& error) {
      // Out of memory or epoll space, or a factory that does not make shared handlers: this
      // connection is dropped, the server keeps serving, and the log says why.
      rejected_.fetch_add(1, std::memory_order_relaxed);
      metrics::add(metrics::Counter::kConnectionsRejected);
      LF_LOG_ERROR("could not open an accepted connection: {}", error.what());
    }
  }
  // More may be pending; with edge-triggered epoll no new event would say so.
  notify(event::kReadable);
}

std::shared_ptr<void> Acceptor::take_slot() {
  if (max_connections_ == 0) return nullptr;
  open_->fetch_add(1, std::memory_order_relaxed);
  // The deleter gives the slot back: when the connection closes, or at once if open() throws.
  return {open_.get(), [open = open_](void*) { open->fetch_sub(1, std::memory_order_relaxed); }};
}

bool Acceptor::reject_one() noexcept {
  spare_fd_.reset();
  Socket victim = socket_.accept(nullptr);
  const bool rejected = victim.valid();
  if (rejected) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    metrics::add(metrics::Counter::kConnectionsRejected);
  }
  victim.close();
  spare_fd_ = open_spare();
  return rejected;
}

void Acceptor::handle_close() {
  if (!socket_.valid()) return;
  if (HandleSet* set = handle_set()) set->remove_handle(*this);
  socket_.close();
}

}  // namespace lf
