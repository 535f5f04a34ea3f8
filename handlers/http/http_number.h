// Internal to the HTTP handler: the decimal numbers of Content-Length and Range.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

namespace lf {

// Digits only: no sign, no spaces, nothing after; false on overflow.
[[nodiscard]] inline bool parse_http_decimal(std::string_view s, std::uint64_t& value) noexcept {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  const auto [stop, error] = std::from_chars(s.data(), end, value);
  return error == std::errc{} && stop == end;
}

}  // namespace lf
