// lf-demo: every protocol of handlers/ on one Server: one ThreadSet, one HandleSet, six
// listeners, plus HTTPS and the key-value store over TLS with a self-signed certificate made on
// first run. On start it prints each endpoint with a command to try it.
#include <fmt/core.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http_routes.h"
#include "lf/app/app_options.h"
#include "lf/app/self_signed.h"
#include "lf/handlers/chat/chat_connection.h"
#include "lf/handlers/chat/chat_room.h"
#include "lf/handlers/echo/echo_connection.h"
#include "lf/handlers/http/http_connection.h"
#include "lf/handlers/kv/kv_connection.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/handlers/timestamp/timestamp_connection.h"
#include "lf/handlers/udp_echo/udp_echo_handler.h"
#include "lf/net/tls_context.h"

namespace {

// Where the certificate lives between runs: the XDG base directory spec's place for state
// ($XDG_STATE_HOME, which must be absolute, else ~/.local/state), else the working directory.
std::string default_tls_dir() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
    return std::string(state) + "/lf-demo";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
    return std::string(home) + "/.local/state/lf-demo";
  }
  return "lf-demo-tls";
}

// The certificate to serve TLS with, made in `dir` on first run, and a banner line saying where
// it is. None when it can be neither made nor read: the banner says why and the plaintext ports
// serve all the same (a read-only home must not stop the demo).
std::optional<lf::app::SelfSignedFiles> demo_certificate(const std::string& dir,
                                                         std::string& banner) {
  try {
    lf::app::SelfSignedFiles files = lf::app::ensure_self_signed(dir);
    banner = fmt::format("TLS certificate {} ({}: self-signed for localhost, 127.0.0.1 and ::1)\n",
                         files.cert, files.created ? "made now" : "reused");
    return files;
  } catch (const std::exception& error) {
    banner =
        fmt::format("TLS off: {} (--tls-dir DIR puts the certificate elsewhere)\n", error.what());
    return std::nullopt;
  }
}

}  // namespace

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
  std::uint16_t https_port = 8443;
  std::uint16_t kv_tls_port = 6381;
  std::string tls_dir = default_tls_dir();
  std::string root = LF_DOCS_DIR;
  app.add_option("--echo-port", echo_port, "echo")->capture_default_str();
  app.add_option("--http-port", http_port, "HTTP/1.1")->capture_default_str();
  app.add_option("--kv-port", kv_port, "Redis-protocol key-value store")->capture_default_str();
  app.add_option("--chat-port", chat_port, "chat room")->capture_default_str();
  app.add_option("--timestamp-port", timestamp_port, "timestamp")->capture_default_str();
  app.add_option("--udp-echo-port", udp_echo_port, "UDP echo")->capture_default_str();
  app.add_option("--https-port", https_port, "HTTPS: the HTTP routes over TLS (0: off)")
      ->capture_default_str();
  app.add_option("--kv-tls-port", kv_tls_port,
                 "the key-value store (the same one) over TLS (0: off)")
      ->capture_default_str();
  app.add_option("--tls-dir", tls_dir,
                 "the TLS certificate and key (cert.pem, key.pem): made here on first run, "
                 "self-signed for localhost, 127.0.0.1 and ::1; reused afterwards")
      ->capture_default_str();
  app.add_option("--root", root, "static files served over HTTP")
      ->capture_default_str()
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);

  return lf::app::run_program("lf-demo", options, [&](lf::Server& server) {
    const lf::ListenOptions listen = lf::app::listen_options(options);
    const auto at = [&](std::uint16_t port) { return lf::app::listen_address(options, port); };

    const lf::InetAddress echo = server.listen<lf::EchoConnection>(at(echo_port), listen);
    const auto http_service = lf::demo::demo_http_service(root);
    const lf::InetAddress http =
        server.listen<lf::HttpConnection>(at(http_port), listen, http_service);
    auto store = std::make_shared<lf::KvStore>();
    store->start_expiry_sweep(server.timers());
    const lf::InetAddress kv =
        server.listen<lf::KvConnection>(at(kv_port), listen, store, lf::KvOptions{});

    // TLS: the same handlers, the same routes and the same store, on listeners of their own.
    std::string https_banner;
    std::string kv_tls_banner;
    std::string certificate_banner;
    std::optional<lf::app::SelfSignedFiles> files;
    if (https_port != 0 || kv_tls_port != 0) files = demo_certificate(tls_dir, certificate_banner);
    if (files) {
      const auto tls = [&](std::vector<std::string> alpn) {
        lf::ListenOptions over_tls = listen;
        over_tls.tls = lf::TlsContext::create(lf::TlsOptions{
            .cert_chain_file = files->cert, .key_file = files->key, .alpn = std::move(alpn)});
        return over_tls;
      };
      if (https_port != 0) {
        const lf::InetAddress https =
            server.listen<lf::HttpConnection>(at(https_port), tls({"http/1.1"}), http_service);
        https_banner =
            fmt::format("  HTTPS      {:<22} curl --cacert {} https://localhost:{}/hello\n",
                        https.to_string(), files->cert, https.port());
      }
      if (kv_tls_port != 0) {
        const lf::InetAddress kv_tls =
            server.listen<lf::KvConnection>(at(kv_tls_port), tls({}), store, lf::KvOptions{});
        kv_tls_banner =
            fmt::format("  Redis TLS  {:<22} redis-cli --tls --cacert {} -p {} get greeting\n",
                        kv_tls.to_string(), files->cert, kv_tls.port());
      }
    }
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
        "{}"
        "  key-value  {:<22} redis-cli -p {} set greeting hello\n"
        "                                    redis-cli -p {} get greeting\n"
        "{}"
        "  chat       {:<22} nc 127.0.0.1 {}   (in two terminals)\n"
        "  timestamp  {:<22} echo hello | nc -N 127.0.0.1 {}\n"
        "  UDP echo   {:<22} echo hello | nc -u -w1 127.0.0.1 {}\n"
        "{}"
        "Stop with Ctrl-C.",
        server.dispatcher().threads(), lf::to_string(server.dispatcher().model()), echo.to_string(),
        echo.port(), http.to_string(), http.port(), http.port(), http.port(), https_banner,
        kv.to_string(), kv.port(), kv.port(), kv_tls_banner, chat.to_string(), chat.port(),
        timestamp.to_string(), timestamp.port(), udp_echo.to_string(), udp_echo.port(),
        certificate_banner);
  });
}
