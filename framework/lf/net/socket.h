// Public. Socket: an owned, non-blocking TCP socket and the few operations lf needs on it.
// Not thread safe; the fd itself may be used by several threads as the kernel allows.
#pragma once

#include <sys/socket.h>

#include "lf/base/unique_fd.h"
#include "lf/net/inet_address.h"

namespace lf {

// How a listening socket is set up (a value type, read by Socket::listen()). The listener's
// policy (idle timeout, connection limit) is the Acceptor's: ListenOptions in acceptor.h.
struct ListenSocketOptions {
  bool reuse_port = false;  // SO_REUSEPORT: several processes or sockets share the port
  int backlog = SOMAXCONN;
  bool v6_only = false;     // IPV6_V6ONLY for "::" listeners
};

class Socket {
 public:
  Socket() noexcept = default;
  explicit Socket(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  // A listening socket bound to addr (SO_REUSEADDR always). Throws std::system_error.
  [[nodiscard]] static Socket listen(const InetAddress& addr,
                                     const ListenSocketOptions& options = {});
  // A non-blocking, close-on-exec stream socket of the address's family. Throws std::system_error.
  [[nodiscard]] static Socket stream(sa_family_t family);

  // accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC. An invalid Socket means failure; errno tells why.
  [[nodiscard]] Socket accept(InetAddress* peer) const noexcept;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] bool valid() const noexcept { return fd_.valid(); }
  void close() noexcept { fd_.reset(); }

  void shutdown_write() const noexcept;
  // Bytes received and not yet read (FIONREAD); 0 on error.
  [[nodiscard]] int pending_input() const noexcept;
  void set_tcp_no_delay(bool on) const noexcept;
  void set_keep_alive(bool on) const noexcept;
  // The pending socket error (SO_ERROR), 0 if none.
  [[nodiscard]] int error() const noexcept;

 private:
  UniqueFd fd_;
};

}  // namespace lf
