#include "lf/handlers/kv/float_text.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lf {
namespace {

constexpr std::size_t kMaxLongDoubleChars = 5 * 1024;  // Redis's MAX_LONG_DOUBLE_CHARS

}  // namespace

bool parse_long_double(std::string_view text, long double& value) noexcept {
  char buffer[kMaxLongDoubleChars];
  if (text.empty() || text.size() >= sizeof buffer) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  errno = 0;
  char* end = nullptr;
  const long double parsed = std::strtold(buffer, &end);
  if (std::isspace(static_cast<unsigned char>(buffer[0])) || end[0] != '\0' ||
      (errno == ERANGE &&
       (parsed == HUGE_VALL || parsed == -HUGE_VALL || std::fpclassify(parsed) == FP_ZERO)) ||
      errno == EINVAL || std::isnan(parsed)) {
    return false;
  }
  value = parsed;
  return true;
}

std::string format_long_double(long double value) {
  char buffer[kMaxLongDoubleChars];
  const int written = std::snprintf(buffer, sizeof buffer, "%.17Lf", value);
  if (written < 0 || static_cast<std::size_t>(written) + 1 > sizeof buffer) return {};
  std::size_t length = static_cast<std::size_t>(written);
  if (std::memchr(buffer, '.', length) != nullptr) {
    while (buffer[length - 1] == '0') --length;
    if (buffer[length - 1] == '.') --length;
  }
  if (length == 2 && buffer[0] == '-' && buffer[1] == '0') return "0";
  return std::string(buffer, length);
}

}  // namespace lf
