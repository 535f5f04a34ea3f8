#include "lf/net/inet_address.h"

#include <arpa/inet.h>
#include <endian.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace lf {

namespace {
sockaddr_storage storage_of(const void* addr, std::size_t len) {
  sockaddr_storage storage{};
  std::memcpy(&storage, addr, len);
  return storage;
}
}  // namespace

InetAddress::InetAddress() noexcept : InetAddress(0) {}

InetAddress::InetAddress(std::uint16_t port, bool loopback, bool ipv6) noexcept {
  if (ipv6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = loopback ? in6addr_loopback : in6addr_any;
    a.sin6_port = htobe16(port);
    addr_ = storage_of(&a, sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htobe32(loopback ? INADDR_LOOPBACK : INADDR_ANY);
    a.sin_port = htobe16(port);
    addr_ = storage_of(&a, sizeof a);
  }
}

InetAddress::InetAddress(const sockaddr_in& addr) noexcept : addr_(storage_of(&addr, sizeof addr)) {}
InetAddress::InetAddress(const sockaddr_in6& addr) noexcept
    : addr_(storage_of(&addr, sizeof addr)) {}

std::optional<InetAddress> InetAddress::parse(std::string_view ip, std::uint16_t port) {
  const std::string text(ip);
  sockaddr_in a4{};
  if (::inet_pton(AF_INET, text.c_str(), &a4.sin_addr) == 1) {
    a4.sin_family = AF_INET;
    a4.sin_port = htobe16(port);
    return InetAddress(a4);
  }
  sockaddr_in6 a6{};
  if (::inet_pton(AF_INET6, text.c_str(), &a6.sin6_addr) == 1) {
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htobe16(port);
    return InetAddress(a6);
  }
  return std::nullopt;
}

std::optional<InetAddress> InetAddress::parse(std::string_view host_port) {
  std::string_view host;
  std::string_view port_text = host_port;
  if (const auto colon = host_port.rfind(':'); colon != std::string_view::npos) {
    host = host_port.substr(0, colon);
    port_text = host_port.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::uint16_t port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty()) {
    return std::nullopt;
  }
  if (host.empty()) return InetAddress(port);
  return parse(host, port);
}

InetAddress InetAddress::local_of(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof storage;
  InetAddress result;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) == 0) result.addr_ = storage;
  return result;
}

InetAddress InetAddress::peer_of(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof storage;
  InetAddress result;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &len) == 0) result.addr_ = storage;
  return result;
}

std::uint16_t InetAddress::port() const noexcept {
  if (is_ipv6()) return be16toh(reinterpret_cast<const sockaddr_in6*>(&addr_)->sin6_port);
  return be16toh(reinterpret_cast<const sockaddr_in*>(&addr_)->sin_port);
}

std::string InetAddress::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_ipv6()) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr_)->sin6_addr, text,
                sizeof text);
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr_)->sin_addr, text,
                sizeof text);
  }
  return text;
}

std::string InetAddress::to_string() const {
  if (is_ipv6()) return fmt::format("[{}]:{}", ip(), port());
  return fmt::format("{}:{}", ip(), port());
}

const sockaddr* InetAddress::sockaddr_ptr() const noexcept {
  return reinterpret_cast<const sockaddr*>(&addr_);
}

socklen_t InetAddress::length() const noexcept {
  return is_ipv6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace lf
