// Public. InetAddress: an IPv4 or IPv6 socket address (value type). Thread safe (immutable use).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lf {

class InetAddress {
 public:
  // The IPv4 wildcard address 0.0.0.0:0.
  InetAddress() noexcept;
  // Wildcard (0.0.0.0 / ::) or loopback address with the given port.
  explicit InetAddress(std::uint16_t port, bool loopback = false, bool ipv6 = false) noexcept;
  explicit InetAddress(const sockaddr_in& addr) noexcept;
  explicit InetAddress(const sockaddr_in6& addr) noexcept;

  // Parses a numeric address ("127.0.0.1", "::1") and a port; no DNS lookups.
  [[nodiscard]] static std::optional<InetAddress> parse(std::string_view ip, std::uint16_t port);
  // Parses "host:port", "[v6]:port" or ":port"/"port" (wildcard IPv4).
  [[nodiscard]] static std::optional<InetAddress> parse(std::string_view host_port);
  // The address of a connected or bound socket.
  [[nodiscard]] static InetAddress local_of(int fd);
  [[nodiscard]] static InetAddress peer_of(int fd);

  [[nodiscard]] sa_family_t family() const noexcept { return addr_.ss_family; }
  [[nodiscard]] bool is_ipv6() const noexcept { return family() == AF_INET6; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::string ip() const;
  [[nodiscard]] std::string to_string() const;  // "1.2.3.4:80" or "[::1]:80"

  [[nodiscard]] const sockaddr* sockaddr_ptr() const noexcept;
  [[nodiscard]] socklen_t length() const noexcept;

 private:
  sockaddr_storage addr_{};
};

}  // namespace lf
