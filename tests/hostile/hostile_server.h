// Test support for tests/hostile/: one Server on 127.0.0.1 with a listener per protocol (echo,
// HTTP, Redis-protocol, length-prefixed frames) and short timeouts, so hostile clients are
// closed quickly; plus the process figures the tests check (fds, peak RSS, CPU time).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "lf/handlers/codec/length_prefixed_connection.h"
#include "lf/handlers/echo/echo_connection.h"
#include "lf/handlers/http/http_connection.h"
#include "lf/handlers/http/http_service.h"
#include "lf/handlers/kv/kv_connection.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/server.h"
#include "support/test_client.h"

namespace lf::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif

// Answers every frame with the same frame.
class FrameEcho : public LengthPrefixedConnection {
 public:
  explicit FrameEcho(std::size_t max_frame) : LengthPrefixedConnection(max_frame) {}

 protected:
  void on_frame(std::string_view payload) override { send_frame(payload); }
};

// Echo with a small high-water mark, so a peer that does not read is cut off early.
class SmallWaterEcho : public EchoConnection {
 public:
  SmallWaterEcho() { set_high_water_mark(kHighWaterMark); }
  static constexpr std::size_t kHighWaterMark = 1024 * 1024;
};

struct HostileOptions {
  std::chrono::milliseconds idle_timeout{1000};
  std::chrono::milliseconds header_timeout{1000};
  std::size_t max_connections = 0;
  std::size_t max_frame = 64 * 1024;
  std::size_t threads = 4;
  Model model = kDefaultModel;
};

class HostileServer {
 public:
  static constexpr std::size_t kBigBody = 4 * 1024 * 1024;  // GET /big

  explicit HostileServer(HostileOptions options = {}) {
    ServerOptions server_options;
    server_options.threads = options.threads;
    server_options.handle_signals = false;
    server_options.model = options.model;
    server_ = std::make_unique<Server>(server_options);
    ListenOptions listen;
    listen.idle_timeout = options.idle_timeout;
    listen.max_connections = options.max_connections;
    const InetAddress any(0, /*loopback=*/true);
    echo_ = server_->listen<SmallWaterEcho>(any, listen);
    HttpOptions http;
    http.header_timeout = options.header_timeout;
    http.linger_timeout = std::chrono::milliseconds(500);
    auto service = std::make_shared<HttpService>(http);
    service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
      response.set_body("hello\n", "text/plain");
    });
    service->router().get("/big", [](const HttpRequest&, HttpResponse& response) {
      response.set_body(std::string(kBigBody, 'b'), "application/octet-stream");
    });
    http_ = server_->listen<HttpConnection>(any, listen,
                                            std::shared_ptr<const HttpService>(service));
    KvOptions kv;
    kv.max_input_buffer = 1024 * 1024;
    kv.close_linger = std::chrono::milliseconds(500);
    kv_ = server_->listen<KvConnection>(any, listen, store_, kv);
    frames_ = server_->listen<FrameEcho>(any, listen, options.max_frame);
    server_->start();
  }
  ~HostileServer() {
    server_->stop();
    server_->wait();
  }
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  [[nodiscard]] const InetAddress& echo() const noexcept { return echo_; }
  [[nodiscard]] const InetAddress& http() const noexcept { return http_; }
  [[nodiscard]] const InetAddress& kv() const noexcept { return kv_; }
  [[nodiscard]] const InetAddress& frames() const noexcept { return frames_; }
  [[nodiscard]] Server& server() noexcept { return *server_; }

 private:
  std::shared_ptr<KvStore> store_ = std::make_shared<KvStore>();
  std::unique_ptr<Server> server_;
  InetAddress echo_, http_, kv_, frames_;
};


// Peak resident set of this process so far, in KiB.
inline long peak_rss_kb() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// CPU time (user + system) this process has used, in seconds.
inline double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One round trip that proves a listener still serves: echo, GET /hello, PING, a frame.
inline bool echo_works(const InetAddress& address) {
  TestClient client(address);
  if (!client.send_all("ping\n")) return false;
  const auto reply = client.recv_exact(5);
  return reply && *reply == "ping\n";
}
inline bool http_works(const InetAddress& address) {
  TestClient client(address);
  if (!client.send_all("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")) return false;
  const auto reply = client.recv_until_eof();
  return reply && reply->starts_with("HTTP/1.1 200") && reply->ends_with("hello\n");
}
inline bool kv_works(const InetAddress& address) {
  TestClient client(address);
  if (!client.send_all("*1\r\n$4\r\nPING\r\n")) return false;
  const auto reply = client.recv_exact(7);
  return reply && *reply == "+PONG\r\n";
}
inline std::string frame(std::string_view payload) {
  std::string out(4, '\0');
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  out.append(payload);
  return out;
}
inline bool frames_work(const InetAddress& address) {
  TestClient client(address);
  if (!client.send_all(frame("hello"))) return false;
  const auto reply = client.recv_exact(9);
  return reply && *reply == frame("hello");
}
inline bool all_serve(const HostileServer& server) {
  return echo_works(server.echo()) && http_works(server.http()) && kv_works(server.kv()) &&
         frames_work(server.frames());
}

}  // namespace lf::test
