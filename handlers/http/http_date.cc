#include "lf/handlers/http/http_date.h"

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

constexpr std::array<const char*, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

// Reads a date left to right, one field at a time; any mismatch leaves it failed for good.
class DateReader {
 public:
  explicit DateReader(std::string_view text) noexcept : rest_(text) {}

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] bool at_end() const noexcept { return ok_ && rest_.empty(); }

  void literal(std::string_view expected) noexcept {
    ok_ = ok_ && rest_.starts_with(expected);
    if (ok_) rest_.remove_prefix(expected.size());
  }
  // Exactly `count` digits (a leading space stands for a zero where `space_pad`: asctime's day).
  int number(std::size_t count, bool space_pad = false) noexcept {
    int value = 0;
    for (std::size_t i = 0; ok_ && i < count; ++i) {
      const char c = i < rest_.size() ? rest_[i] : '\0';
      if (c >= '0' && c <= '9') {
        value = value * 10 + (c - '0');
      } else {
        ok_ = space_pad && i == 0 && c == ' ';
      }
    }
    if (ok_) rest_.remove_prefix(count);
    return value;
  }
  // One of `names`; returns its index.
  template <std::size_t N>
  int name(const std::array<const char*, N>& names) noexcept {
    for (std::size_t i = 0; ok_ && i < N; ++i) {
      if (rest_.starts_with(names[i])) {
        rest_.remove_prefix(std::string_view(names[i]).size());
        return static_cast<int>(i);
      }
    }
    ok_ = false;
    return 0;
  }
  // "08:49:37"
  void time_of_day(std::tm& tm) noexcept {
    tm.tm_hour = number(2);
    literal(":");
    tm.tm_min = number(2);
    literal(":");
    tm.tm_sec = number(2);
  }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

// "Sun, 06 Nov 1994 08:49:37 GMT"
bool read_imf_fixdate(std::string_view text, std::tm& tm) noexcept {
  DateReader in(text);
  in.name(kDays);
  in.literal(", ");
  tm.tm_mday = in.number(2);
  in.literal(" ");
  tm.tm_mon = in.name(kMonths);
  in.literal(" ");
  tm.tm_year = in.number(4) - 1900;
  in.literal(" ");
  in.time_of_day(tm);
  in.literal(" GMT");
  return in.at_end();
}

// "Sunday, 06-Nov-94 08:49:37 GMT" (obsolete). A two-digit year more than 50 years ahead of
// `now` is in the previous century (RFC 9110 5.6.7).
bool read_rfc850_date(std::string_view text, std::time_t now, std::tm& tm) noexcept {
  DateReader in(text);
  in.name(kLongDays);
  in.literal(", ");
  tm.tm_mday = in.number(2);
  in.literal("-");
  tm.tm_mon = in.name(kMonths);
  in.literal("-");
  const int two_digit_year = in.number(2);
  in.literal(" ");
  in.time_of_day(tm);
  in.literal(" GMT");
  if (!in.at_end()) return false;
  std::tm today{};
  gmtime_r(&now, &today);
  const int this_year = today.tm_year + 1900;
  int year = this_year - this_year % 100 + two_digit_year;
  if (year > this_year + 50) year -= 100;
  tm.tm_year = year - 1900;
  return true;
}

// "Sun Nov  6 08:49:37 1994" (obsolete: C's asctime).
bool read_asctime_date(std::string_view text, std::tm& tm) noexcept {
  DateReader in(text);
  in.name(kDays);
  in.literal(" ");
  tm.tm_mon = in.name(kMonths);
  in.literal(" ");
  tm.tm_mday = in.number(2, /*space_pad=*/true);
  in.literal(" ");
  in.time_of_day(tm);
  in.literal(" ");
  tm.tm_year = in.number(4) - 1900;
  return in.at_end();
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
  return parse_http_date(text, std::time(nullptr));
}

std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now) noexcept {
  std::tm tm{};
  if (!read_imf_fixdate(text, tm) && !read_rfc850_date(text, now, tm) &&
      !read_asctime_date(text, tm)) {
    return std::nullopt;
  }
  // The day of the week is not checked against the date: it adds nothing a client could use.
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  return timegm(&tm);
}

}  // namespace lf
