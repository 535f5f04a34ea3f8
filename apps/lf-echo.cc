// lf-echo: a multi-threaded TCP echo server built on lf. Try it with `nc 127.0.0.1 7007`.
#include <fmt/core.h>

#include <exception>

#include "app_options.h"
#include "echo/echo_connection.h"
#include "lf/log.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-echo: TCP echo server on the Leader/Followers pattern"};
  lf::apps::CommonOptions options;
  lf::apps::add_common_options(app, options, 7007);
  CLI11_PARSE(app, argc, argv);

  try {
    lf::apps::start_logging(options);
    lf::Server server(lf::apps::server_options(options));
    const lf::InetAddress bound = server.listen<lf::EchoConnection>(
        lf::apps::listen_address(options), lf::apps::listen_options(options));
    fmt::print("lf-echo listening on {} with {} threads; try: nc 127.0.0.1 {}\n",
               bound.to_string(), options.threads, bound.port());
    std::fflush(stdout);
    LF_LOG_INFO("lf-echo listening on {} with {} threads", bound.to_string(), options.threads);
    server.run();  // until SIGINT or SIGTERM
    LF_LOG_INFO("lf-echo stopped");
    fmt::print("lf-echo stopped\n");
  } catch (const std::exception& error) {
    fmt::print(stderr, "lf-echo: {}\n", error.what());
    return 1;
  }
  return 0;
}
