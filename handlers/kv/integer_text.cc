#include "lf/handlers/kv/integer_text.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

namespace lf {

bool parse_integer(std::string_view text, long long& value) noexcept {
  if (text.empty() || text.size() > 20) return false;
  if (text == "0") {
    value = 0;
    return true;
  }
  const bool negative = text[0] == '-';
  const std::string_view digits = negative ? text.substr(1) : text;
  if (digits.empty() || digits[0] < '1' || digits[0] > '9') return false;
  unsigned long long magnitude = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<unsigned long long>(c - '0');
    if (magnitude > (ULLONG_MAX - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    // LLONG_MIN's magnitude is one more than LLONG_MAX.
    if (magnitude > static_cast<unsigned long long>(LLONG_MAX) + 1) return false;
    value = magnitude == static_cast<unsigned long long>(LLONG_MAX) + 1
                ? LLONG_MIN
                : -static_cast<long long>(magnitude);
  } else {
    if (magnitude > static_cast<unsigned long long>(LLONG_MAX)) return false;
    value = static_cast<long long>(magnitude);
  }
  return true;
}

bool parse_scan_cursor(std::string_view text, unsigned long& cursor) {
  if (!text.empty() && std::isspace(static_cast<unsigned char>(text[0]))) return false;
  const std::string terminated(text);  // strtoul needs the NUL (and, as in Redis, stops at one)
  errno = 0;
  char* end = nullptr;
  const unsigned long parsed = std::strtoul(terminated.c_str(), &end, 10);
  if (end[0] != '\0' || errno == ERANGE) return false;
  cursor = parsed;
  return true;
}

}  // namespace lf
