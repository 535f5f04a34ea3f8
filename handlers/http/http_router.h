// Public. HttpRouter: maps (method, path) to user handlers. Exact paths ("/hello") and prefixes
// ("/api/" matches "/api/users"; the longest prefix wins, exact paths before prefixes). GET
// routes also answer HEAD (the connection drops the body). Configure it before the server
// starts; lookups are then const and thread safe.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lf/handlers/http/http_request.h"
#include "lf/handlers/http/http_response.h"

namespace lf {

// Runs on a ThreadSet thread, concurrently with other connections' handlers: share state with
// care. Throwing answers 500.
using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

class HttpRouter {
 public:
  HttpRouter& get(std::string path, HttpHandler handler);
  HttpRouter& post(std::string path, HttpHandler handler);
  HttpRouter& put(std::string path, HttpHandler handler);
  HttpRouter& del(std::string path, HttpHandler handler);
  HttpRouter& options(std::string path, HttpHandler handler);
  HttpRouter& route(HttpMethod method, std::string path, HttpHandler handler);
  // Every path that starts with `prefix`.
  HttpRouter& route_prefix(HttpMethod method, std::string prefix, HttpHandler handler);

  enum class Match : std::uint8_t { kFound, kNotFound, kMethodNotAllowed };
  struct Lookup {
    Match match = Match::kNotFound;
    const HttpHandler* handler = nullptr;  // when kFound
    std::string allow;                     // when kMethodNotAllowed: "GET, HEAD, POST"
  };
  [[nodiscard]] Lookup find(HttpMethod method, std::string_view path) const;

 private:
  using Handlers = std::array<HttpHandler, static_cast<std::size_t>(HttpMethod::kCount)>;
  struct Prefix {
    std::string prefix;
    Handlers handlers;
  };
  [[nodiscard]] static Lookup select(const Handlers& handlers, HttpMethod method);

  std::map<std::string, Handlers, std::less<>> exact_;
  std::vector<Prefix> prefixes_;  // longest first
};

}  // namespace lf
