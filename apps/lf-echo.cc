// lf-echo: a multi-threaded TCP echo server built on lf. Try it with `nc 127.0.0.1 7007`.
#include <fmt/core.h>

#include <cstddef>
#include <string>

#include "lf/app/app_options.h"
#include "lf/handlers/echo/echo_connection.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-echo: TCP echo server on the Leader/Followers pattern"};
  lf::app::CommonOptions options;
  lf::app::add_common_options(app, options, 7007);
  lf::app::add_tls_options(app, options);
  lf::EchoOptions echo;
  unsigned block_ms = 0;
  app.add_option("--block-permille", echo.block_permille,
                 "this many of every 1000 messages block the handling thread (a stand-in for a "
                 "blocking database call), spread evenly")
      ->capture_default_str()
      ->check(CLI::Range(0u, 1000u));
  app.add_option("--block-ms", block_ms, "how long a blocking message blocks, in milliseconds")
      ->capture_default_str();
  bool client_blocks = false;
  std::size_t message_size = 16;
  auto* client_flag = app.add_flag(
      "--client-blocks", client_blocks,
      "the client chooses which messages block: the stream is made of --message-size byte "
      "messages whose first byte says what to do before echoing it (0 nothing, 1 sleep "
      "--block-ms, 2 compute for --block-ms without sleeping); for loadgen --block-permille");
  app.add_option("--message-size", message_size,
                 "--client-blocks: the size of every message (loadgen's --size)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->needs(client_flag);
  // Two ways of choosing the blocked messages at once would measure neither.
  client_flag->excludes(app.get_option("--block-permille"));
  CLI11_PARSE(app, argc, argv);
  echo.block_time = std::chrono::milliseconds(block_ms);
  if (client_blocks) echo.message_size = message_size;
  return lf::app::run_program("lf-echo", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::EchoConnection>(
        lf::app::listen_address(options), lf::app::listen_options(options), echo);
    const std::string try_it =
        options.tls_cert.empty()
            ? fmt::format("nc 127.0.0.1 {}", bound.port())
            : fmt::format("openssl s_client -quiet -connect 127.0.0.1:{}", bound.port());
    return fmt::format("lf-echo listening on {} with {} threads ({} model){}; try: {}",
                       bound.to_string(), server.dispatcher().threads(),
                       lf::to_string(server.dispatcher().model()),
                       options.tls_cert.empty() ? "" : " over TLS", try_it);
  });
}
