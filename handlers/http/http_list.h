// Internal to the HTTP handler: field values that are comma-separated lists (RFC 9110 5.6.1).
#pragma once

#include <string_view>

namespace lf {

// `s` without the optional white space (SP, HTAB) around it.
[[nodiscard]] inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each comma-separated, trimmed, non-empty element of a list: empty
// elements are allowed and ignored (RFC 9110 5.6.1.2). Not for lists whose elements may hold a
// comma themselves (entity tags: http_etag.h).
template <typename F>
void for_each_list_element(std::string_view list, F f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace lf
