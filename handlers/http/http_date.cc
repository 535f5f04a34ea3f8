#include "http/http_date.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace lf {
namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::size_t kDateLength = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes kDateLength characters and a NUL. Formatted by hand: strftime's names follow the locale.
void format_into(std::time_t time, char* out) noexcept {
  std::tm tm{};
  gmtime_r(&time, &tm);
  tm.tm_year = std::clamp(tm.tm_year, 0, 9999 - 1900);  // four digits, whatever the clock says
  char text[64];
  std::snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays[static_cast<std::size_t>(tm.tm_wday) % 7], tm.tm_mday,
                kMonths[static_cast<std::size_t>(tm.tm_mon) % 12], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  std::memcpy(out, text, kDateLength + 1);
}

bool digits(std::string_view s, int& value) noexcept {
  value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return !s.empty();
}

}  // namespace

std::string_view http_date_now() {
  thread_local std::time_t cached_second = -1;
  thread_local std::array<char, kDateLength + 1> cached{};
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    format_into(now, cached.data());
    cached_second = now;
  }
  return {cached.data(), kDateLength};
}

std::string format_http_date(std::time_t time) {
  std::array<char, kDateLength + 1> text{};
  format_into(time, text.data());
  return std::string(text.data(), kDateLength);
}

std::optional<std::time_t> parse_http_date(std::string_view text) noexcept {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (text.size() != kDateLength || text.substr(3, 2) != ", " || text[7] != ' ' ||
      text[11] != ' ' || text[16] != ' ' || text[19] != ':' || text[22] != ':' ||
      text.substr(25) != " GMT") {
    return std::nullopt;
  }
  std::tm tm{};
  int month = -1;
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (text.substr(8, 3) == kMonths[i]) month = static_cast<int>(i);
  }
  int year = 0;
  if (month < 0 || !digits(text.substr(5, 2), tm.tm_mday) || !digits(text.substr(12, 4), year) ||
      !digits(text.substr(17, 2), tm.tm_hour) || !digits(text.substr(20, 2), tm.tm_min) ||
      !digits(text.substr(23, 2), tm.tm_sec)) {
    return std::nullopt;
  }
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_mon = month;
  tm.tm_year = year - 1900;
  return timegm(&tm);
}

}  // namespace lf
