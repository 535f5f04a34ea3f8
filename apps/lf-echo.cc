// lf-echo: a multi-threaded TCP echo server built on lf. Try it with `nc 127.0.0.1 7007`.
#include <fmt/core.h>

#include "app_options.h"
#include "echo/echo_connection.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-echo: TCP echo server on the Leader/Followers pattern"};
  lf::apps::CommonOptions options;
  lf::apps::add_common_options(app, options, 7007);
  CLI11_PARSE(app, argc, argv);
  return lf::apps::run_program("lf-echo", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::EchoConnection>(
        lf::apps::listen_address(options), lf::apps::listen_options(options));
    return fmt::format("lf-echo listening on {} with {} threads; try: nc 127.0.0.1 {}",
                       bound.to_string(), server.thread_set().size(), bound.port());
  });
}
