#include "lf/net/socket.h"

#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace lf {

namespace {
void set_option(int fd, int level, int name, bool on) noexcept {
  const int value = on ? 1 : 0;
  ::setsockopt(fd, level, name, &value, sizeof value);
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}
}  // namespace

Socket Socket::stream(sa_family_t family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) throw_errno("socket");
  return Socket(UniqueFd(fd));
}

Socket Socket::listen(const InetAddress& addr, const ListenSocketOptions& options) {
  Socket socket = stream(addr.family());
  const int fd = socket.fd();
  set_option(fd, SOL_SOCKET, SO_REUSEADDR, true);
  if (options.reuse_port) set_option(fd, SOL_SOCKET, SO_REUSEPORT, true);
  if (addr.is_ipv6()) set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only);
  if (::bind(fd, addr.sockaddr_ptr(), addr.length()) != 0) {
    throw_errno("bind " + addr.to_string());
  }
  if (::listen(fd, options.backlog) != 0) throw_errno("listen " + addr.to_string());
  return socket;
}

Socket Socket::accept(InetAddress* peer) const noexcept {
  sockaddr_storage storage{};
  socklen_t len = sizeof storage;
  const int fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&storage), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return Socket();
  if (peer != nullptr) {
    if (storage.ss_family == AF_INET6) {
      *peer = InetAddress(*reinterpret_cast<const sockaddr_in6*>(&storage));
    } else {
      *peer = InetAddress(*reinterpret_cast<const sockaddr_in*>(&storage));
    }
  }
  return Socket(UniqueFd(fd));
}

void Socket::shutdown_write() const noexcept { ::shutdown(fd_.get(), SHUT_WR); }

int Socket::pending_input() const noexcept {
  int bytes = 0;
  return ::ioctl(fd_.get(), FIONREAD, &bytes) == 0 ? bytes : 0;
}

void Socket::set_tcp_no_delay(bool on) const noexcept {
  set_option(fd_.get(), IPPROTO_TCP, TCP_NODELAY, on);
}

void Socket::set_keep_alive(bool on) const noexcept {
  set_option(fd_.get(), SOL_SOCKET, SO_KEEPALIVE, on);
}

int Socket::error() const noexcept {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &value, &len) != 0) return errno;
  return value;
}

}  // namespace lf
