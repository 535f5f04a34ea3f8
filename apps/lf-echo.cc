// lf-echo: a multi-threaded TCP echo server built on lf. Try it with `nc 127.0.0.1 7007`.
#include <fmt/core.h>

#include "app_options.h"
#include "echo/echo_connection.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-echo: TCP echo server on the Leader/Followers pattern"};
  lf::apps::CommonOptions options;
  lf::apps::add_common_options(app, options, 7007);
  lf::EchoOptions echo;
  unsigned block_ms = 0;
  app.add_option("--block-permille", echo.block_permille,
                 "this many of every 1000 messages block the handling thread (a stand-in for a "
                 "blocking database call), spread evenly")
      ->capture_default_str()
      ->check(CLI::Range(0u, 1000u));
  app.add_option("--block-ms", block_ms, "how long a blocking message blocks, in milliseconds")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  echo.block_time = std::chrono::milliseconds(block_ms);
  return lf::apps::run_program("lf-echo", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::EchoConnection>(
        lf::apps::listen_address(options), lf::apps::listen_options(options), echo);
    return fmt::format("lf-echo listening on {} with {} threads ({} model); try: nc 127.0.0.1 {}",
                       bound.to_string(), server.dispatcher().threads(),
                       lf::to_string(server.dispatcher().model()), bound.port());
  });
}
