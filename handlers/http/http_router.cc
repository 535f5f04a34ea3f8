#include "lf/handlers/http/http_router.h"

#include <algorithm>
#include <utility>

namespace lf {
namespace {

std::size_t index_of(HttpMethod method) { return static_cast<std::size_t>(method); }

}  // namespace

HttpRouter& HttpRouter::get(std::string path, HttpHandler handler) {
  return route(HttpMethod::kGet, std::move(path), std::move(handler));
}
HttpRouter& HttpRouter::post(std::string path, HttpHandler handler) {
  return route(HttpMethod::kPost, std::move(path), std::move(handler));
}
HttpRouter& HttpRouter::put(std::string path, HttpHandler handler) {
  return route(HttpMethod::kPut, std::move(path), std::move(handler));
}
HttpRouter& HttpRouter::del(std::string path, HttpHandler handler) {
  return route(HttpMethod::kDelete, std::move(path), std::move(handler));
}
HttpRouter& HttpRouter::options(std::string path, HttpHandler handler) {
  return route(HttpMethod::kOptions, std::move(path), std::move(handler));
}

HttpRouter& HttpRouter::route(HttpMethod method, std::string path, HttpHandler handler) {
  exact_[std::move(path)][index_of(method)] = std::move(handler);
  return *this;
}

HttpRouter& HttpRouter::route_prefix(HttpMethod method, std::string prefix, HttpHandler handler) {
  auto it = std::find_if(prefixes_.begin(), prefixes_.end(),
                         [&](const Prefix& p) { return p.prefix == prefix; });
  if (it == prefixes_.end()) {
    prefixes_.push_back(Prefix{std::move(prefix), {}});
    it = prefixes_.end() - 1;
  }
  it->handlers[index_of(method)] = std::move(handler);
  std::stable_sort(prefixes_.begin(), prefixes_.end(), [](const Prefix& a, const Prefix& b) {
    return a.prefix.size() > b.prefix.size();
  });
  return *this;
}

HttpRouter::Lookup HttpRouter::find(HttpMethod method, std::string_view path) const {
  if (const auto it = exact_.find(path); it != exact_.end()) return select(it->second, method);
  for (const Prefix& p : prefixes_) {
    if (path.starts_with(p.prefix)) return select(p.handlers, method);
  }
  return {};
}

HttpRouter::Lookup HttpRouter::select(const Handlers& handlers, HttpMethod method) {
  Lookup lookup;
  const HttpHandler* handler = &handlers[index_of(method)];
  if (!*handler && method == HttpMethod::kHead) handler = &handlers[index_of(HttpMethod::kGet)];
  if (*handler) {
    lookup.match = Match::kFound;
    lookup.handler = handler;
    return lookup;
  }
  lookup.match = Match::kMethodNotAllowed;
  for (std::size_t i = 0; i < handlers.size(); ++i) {
    const auto m = static_cast<HttpMethod>(i);
    // HEAD follows GET; OPTIONS is always answered (by the service when no handler is set).
    const bool allowed = handlers[i] ||
                         (m == HttpMethod::kHead && handlers[index_of(HttpMethod::kGet)]) ||
                         m == HttpMethod::kOptions;
    if (!allowed) continue;
    if (!lookup.allow.empty()) lookup.allow.append(", ");
    lookup.allow.append(to_string(m));
  }
  return lookup;
}

}  // namespace lf
