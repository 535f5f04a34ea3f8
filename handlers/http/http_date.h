// Public. HTTP dates (RFC 9110 5.6.7 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"): the current
// one for the Date header, cached per second, and conversions for Last-Modified and
// If-Modified-Since. Thread safe.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace lf {

// The current time as an IMF-fixdate. The view stays valid on this thread until the next call
// (each thread keeps its own copy, formatted again when the second changes: no lock).
[[nodiscard]] std::string_view http_date_now();

[[nodiscard]] std::string format_http_date(std::time_t time);
// Parses an IMF-fixdate; nullopt for anything else (the obsolete formats are not accepted, so
// a conditional request carrying one is answered in full).
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text) noexcept;

}  // namespace lf
