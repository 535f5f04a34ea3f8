// lf-timestamp: answers every line with "[YYYY-mm-dd HH:MM:SS]server reply: " and the line.
// Try it with `nc 127.0.0.1 7009`.
#include <fmt/core.h>

#include "lf/app/app_options.h"
#include "lf/handlers/timestamp/timestamp_connection.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-timestamp: line timestamping server on the Leader/Followers pattern"};
  lf::app::CommonOptions options;
  lf::app::add_common_options(app, options, 7009);
  CLI11_PARSE(app, argc, argv);
  return lf::app::run_program("lf-timestamp", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::TimestampConnection>(
        lf::app::listen_address(options), lf::app::listen_options(options));
    return fmt::format("lf-timestamp listening on {}; try: echo hello | nc -N 127.0.0.1 {}",
                       bound.to_string(), bound.port());
  });
}
