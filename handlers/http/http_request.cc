#include "lf/handlers/http/http_request.h"

#include <algorithm>
#include <array>

namespace lf {

std::string_view to_string(HttpMethod method) noexcept {
  static constexpr std::array<std::string_view, static_cast<std::size_t>(HttpMethod::kCount)>
      kNames = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
  const auto index = static_cast<std::size_t>(method);
  return index < kNames.size() ? kNames[index] : std::string_view("?");
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

std::string_view HttpRequest::header(std::string_view name) const noexcept {
  for (const HttpHeader& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

bool HttpRequest::has_header(std::string_view name) const noexcept {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const HttpHeader& h) { return iequals(h.name, name); });
}

}  // namespace lf
