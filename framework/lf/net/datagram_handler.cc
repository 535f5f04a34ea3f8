#include "lf/net/datagram_handler.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <system_error>

#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/pattern/handle_set.h"

namespace lf {

namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

UniqueFd bind_udp(const InetAddress& address, const DatagramOptions& options) {
  UniqueFd fd(::socket(address.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) throw_errno("socket");
  const int on = 1;
  if (options.reuse_port &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    throw_errno("setsockopt(SO_REUSEPORT)");
  }
  if (address.is_ipv6()) {
    const int v6_only = options.v6_only ? 1 : 0;
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6_only, sizeof v6_only) != 0) {
      throw_errno("setsockopt(IPV6_V6ONLY)");
    }
  }
  if (::bind(fd.get(), address.sockaddr_ptr(), address.length()) != 0) throw_errno("bind");
  return fd;
}

InetAddress from_storage(const sockaddr_storage& storage) {
  if (storage.ss_family == AF_INET6) {
    sockaddr_in6 addr{};
    std::memcpy(&addr, &storage, sizeof addr);
    return InetAddress(addr);
  }
  sockaddr_in addr{};
  std::memcpy(&addr, &storage, sizeof addr);
  return InetAddress(addr);
}

}  // namespace

DatagramHandler::DatagramHandler(const InetAddress& address, const DatagramOptions& options)
    : fd_(bind_udp(address, options)), local_(InetAddress::local_of(fd_.get())), options_(options) {
  metrics::add(metrics::Counter::kUdpHandlersOpened);  // the lf_udp_handlers gauge
}

// One that was never closed (never registered, or freed with its HandleSet) leaves the gauge here.
DatagramHandler::~DatagramHandler() {
  if (!closed_) metrics::add(metrics::Counter::kUdpHandlersClosed);
}

bool DatagramHandler::send_to(std::string_view data, const InetAddress& to) {
  bool was_empty = false;
  {
    std::lock_guard lock(output_mutex_);
    if (output_closed_ || output_bytes_ + data.size() > options_.max_queued_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    was_empty = output_.empty();
    output_.push_back(Datagram{to, std::string(data)});
    output_bytes_ += data.size();
  }
  // Our own processing flushes before it returns; otherwise hand the send to a ThreadSet thread.
  if (was_empty && !in_processing()) notify(event::kWake);
  return true;
}

std::uint32_t DatagramHandler::interest() const noexcept {
  if (closed_) return 0;
  return want_write_ ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
}

void DatagramHandler::handle_event(std::uint32_t events) {
  if (closed_) return;
  if ((events & (event::kReadable | event::kError)) != 0) read_datagrams();
  if (closed_) return;
  flush_output();
}

void DatagramHandler::read_datagrams() {
  if (input_.empty()) input_.resize(kBatch * kMaxDatagram);
  std::array<mmsghdr, kBatch> messages{};
  std::array<iovec, kBatch> vectors{};
  std::array<sockaddr_storage, kBatch> peers{};
  // Level triggered (kOneShot), a short batch means the socket is drained; edge triggered, read
  // until EAGAIN because nothing would be reported again.
  const bool until_eagain = handle_set()->suspension() == Suspension::kEdgeTriggered;
  for (int round = 0; round < kMaxBatchesPerRound; ++round) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      vectors[i] = iovec{input_.data() + i * kMaxDatagram, kMaxDatagram};
      messages[i].msg_hdr = msghdr{};
      messages[i].msg_hdr.msg_name = &peers[i];
      messages[i].msg_hdr.msg_namelen = sizeof peers[i];
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd_.get(), messages.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained; errors of unconnected UDP sockets are not ours to act on
    }
    const auto count = static_cast<std::size_t>(n);
    received_.fetch_add(count, std::memory_order_relaxed);
    for (std::size_t i = 0; i < count; ++i) {
      deliver(std::string_view(input_.data() + i * kMaxDatagram, messages[i].msg_len),
              from_storage(peers[i]));
      if (closed_) return;
    }
    flush_output();  // answers go out in batches as they are produced
    if (count < kBatch && !until_eagain) return;
  }
  notify(event::kReadable);  // still busy: come back after other handlers had their turn
}

void DatagramHandler::deliver(std::string_view data, const InetAddress& from) {
  // UDP has no connection to close: a datagram whose handling throws is dropped, the service
  // (and every other peer) carries on.
  try {
    on_datagram(data, from);
  } catch (const std::exception& e) {
    failed(from, e.what());
  } catch (...) {
    failed(from, "an exception not derived from std::exception");
  }
}

void DatagramHandler::failed(const InetAddress& from, std::string_view what) noexcept {
  metrics::add(metrics::Counter::kHandlerExceptions);
  LF_LOG_ERROR("datagram from {}: on_datagram threw: {}; dropped", from.to_string(), what);
}

void DatagramHandler::flush_output() {
  std::vector<Datagram> batch;
  {
    std::lock_guard lock(output_mutex_);
    batch.swap(output_);
    output_bytes_ = 0;
  }
  std::array<mmsghdr, kBatch> messages{};
  std::array<iovec, kBatch> vectors{};
  std::size_t done = 0;
  bool blocked = false;
  while (done < batch.size() && !blocked) {
    const std::size_t count = std::min(kBatch, batch.size() - done);
    for (std::size_t i = 0; i < count; ++i) {
      Datagram& datagram = batch[done + i];
      vectors[i] = iovec{datagram.data.data(), datagram.data.size()};
      messages[i].msg_hdr = msghdr{};
      messages[i].msg_hdr.msg_name = const_cast<sockaddr*>(datagram.to.sockaddr_ptr());
      messages[i].msg_hdr.msg_namelen = datagram.to.length();
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::sendmmsg(fd_.get(), messages.data(), static_cast<unsigned>(count), 0);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      sent_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      blocked = true;
    } else {
      // This datagram cannot be sent (EMSGSIZE, an unreachable address): drop it, go on.
      ++done;
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  want_write_ = blocked;
  if (done == batch.size()) return;
  // Put the rest back in front of whatever other threads queued meanwhile.
  std::lock_guard lock(output_mutex_);
  if (output_closed_) return;
  for (std::size_t i = done; i < batch.size(); ++i) output_bytes_ += batch[i].data.size();
  output_.insert(output_.begin(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(done)),
                 std::make_move_iterator(batch.end()));
}

void DatagramHandler::handle_close() {
  if (closed_) return;
  closed_ = true;
  metrics::add(metrics::Counter::kUdpHandlersClosed);
  {
    std::lock_guard lock(output_mutex_);
    output_closed_ = true;
    output_.clear();
    output_bytes_ = 0;
  }
  if (HandleSet* set = handle_set()) set->remove_handle(*this);
  fd_.reset();
  std::vector<char>().swap(input_);
  want_write_ = false;
}

}  // namespace lf
