// lf-demo: every protocol of handlers/ on one Server: one ThreadSet, one HandleSet, five
// listeners. On start it prints each endpoint with a command to try it.
#include <fmt/core.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lf/app/app_options.h"
#include "lf/handlers/chat/chat_connection.h"
#include "lf/handlers/chat/chat_room.h"
#include "lf/handlers/echo/echo_connection.h"
#include "lf/handlers/http/http_connection.h"
#include "http_routes.h"
#include "lf/handlers/kv/kv_connection.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/handlers/timestamp/timestamp_connection.h"
#include "lf/handlers/udp_echo/udp_echo_handler.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-demo: echo, HTTP, Redis-protocol key-value, chat and timestamp servers "
               "sharing one Leader/Followers thread set"};
  lf::app::CommonOptions options;
  lf::app::add_common_options(app, options, 0);
  std::uint16_t echo_port = 7007;
  std::uint16_t http_port = 8080;
  std::uint16_t kv_port = 6380;
  std::uint16_t chat_port = 7008;
  std::uint16_t timestamp_port = 7009;
  std::uint16_t udp_echo_port = 7010;
  std::string root = LF_DOCS_DIR;
  app.add_option("--echo-port", echo_port, "echo")->capture_default_str();
  app.add_option("--http-port", http_port, "HTTP/1.1")->capture_default_str();
  app.add_option("--kv-port", kv_port, "Redis-protocol key-value store")->capture_default_str();
  app.add_option("--chat-port", chat_port, "chat room")->capture_default_str();
  app.add_option("--timestamp-port", timestamp_port, "timestamp")->capture_default_str();
  app.add_option("--udp-echo-port", udp_echo_port, "UDP echo")->capture_default_str();
  app.add_option("--root", root, "static files served over HTTP")
      ->capture_default_str()
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);

  return lf::app::run_program("lf-demo", options, [&](lf::Server& server) {
    const lf::ListenOptions listen = lf::app::listen_options(options);
    const auto at = [&](std::uint16_t port) { return lf::app::listen_address(options, port); };

    const lf::InetAddress echo = server.listen<lf::EchoConnection>(at(echo_port), listen);
    const lf::InetAddress http = server.listen<lf::HttpConnection>(
        at(http_port), listen, lf::demo::demo_http_service(root));
    auto store = std::make_shared<lf::KvStore>();
    store->start_expiry_sweep(server.timers());
    const lf::InetAddress kv =
        server.listen<lf::KvConnection>(at(kv_port), listen, store, lf::KvOptions{});
    const lf::InetAddress chat = server.listen<lf::ChatConnection>(
        at(chat_port), listen, std::make_shared<lf::ChatRoom>());
    const lf::InetAddress timestamp =
        server.listen<lf::TimestampConnection>(at(timestamp_port), listen);
    const lf::InetAddress udp_echo =
        server.listen_udp<lf::UdpEchoHandler>(at(udp_echo_port))->local_address();

    return fmt::format(
        "lf-demo: {} threads ({} model), one dispatcher for every protocol\n"
        "  echo       {:<22} echo hello | nc -N 127.0.0.1 {}\n"
        "  HTTP       {:<22} curl http://127.0.0.1:{}/hello\n"
        "                                    curl http://127.0.0.1:{}/metrics\n"
        "                                    curl http://127.0.0.1:{}/architecture.md\n"
        "  key-value  {:<22} redis-cli -p {} set greeting hello\n"
        "                                    redis-cli -p {} get greeting\n"
        "  chat       {:<22} nc 127.0.0.1 {}   (in two terminals)\n"
        "  timestamp  {:<22} echo hello | nc -N 127.0.0.1 {}\n"
        "  UDP echo   {:<22} echo hello | nc -u -w1 127.0.0.1 {}\n"
        "Stop with Ctrl-C.",
        server.dispatcher().threads(), lf::to_string(server.dispatcher().model()),
        echo.to_string(), echo.port(), http.to_string(),
        http.port(), http.port(), http.port(), kv.to_string(), kv.port(), kv.port(),
        chat.to_string(), chat.port(), timestamp.to_string(), timestamp.port(),
        udp_echo.to_string(), udp_echo.port());
  });
}
