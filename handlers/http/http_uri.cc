#include "lf/handlers/http/http_uri.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace lf {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_unreserved(char c) noexcept {
  return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool is_sub_delim(char c) noexcept {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool is_digits(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// reg-name = *( unreserved / pct-encoded / sub-delims )
bool is_reg_name(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (s.size() - i < 3 || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return false;
      i += 2;
    } else if (!is_unreserved(s[i]) && !is_sub_delim(s[i])) {
      return false;
    }
  }
  return true;
}

// What is inside "[...]": an IPv6 address (checked by inet_pton) or
// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
bool is_ip_literal(std::string_view s) noexcept {
  if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) {
    const std::size_t dot = s.find('.');
    if (dot == std::string_view::npos || dot < 2 || dot + 1 == s.size()) return false;
    const std::string_view version = s.substr(1, dot - 1);
    const std::string_view rest = s.substr(dot + 1);
    return std::all_of(version.begin(), version.end(), [](char c) { return hex_value(c) >= 0; }) &&
           std::all_of(rest.begin(), rest.end(),
                       [](char c) { return is_unreserved(c) || is_sub_delim(c) || c == ':'; });
  }
  // Only what an IPv6 address is made of: inet_pton wants a C string, and would stop at a NUL.
  const auto ipv6_char = [](char c) { return hex_value(c) >= 0 || c == ':' || c == '.'; };
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (s.size() >= text.size() || !std::all_of(s.begin(), s.end(), ipv6_char)) return false;
  std::copy(s.begin(), s.end(), text.begin());
  in6_addr address{};
  return ::inet_pton(AF_INET6, text.data(), &address) == 1;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (in.size() - i < 3) return false;
    const int high = hex_value(in[i + 1]);
    const int low = hex_value(in[i + 2]);
    if (high < 0 || low < 0 || (high == 0 && low == 0)) return false;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

bool is_valid_host(std::string_view host) noexcept {
  std::string_view port;
  if (host.starts_with('[')) {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return false;
    if (!after.empty()) port = after.substr(1);
    return is_ip_literal(host.substr(1, close - 1)) && is_digits(port);
  }
  const std::size_t colon = host.rfind(':');
  if (colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  return is_reg_name(host) && is_digits(port);
}

}  // namespace lf
