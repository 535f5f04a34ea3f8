// lf-http: an HTTP/1.1 server: static files from --root, GET /hello and GET /metrics.
// Try it with `curl http://127.0.0.1:8080/hello`.
#include <fmt/core.h>

#include <string>

#include "app_options.h"
#include "http/http_connection.h"
#include "http_routes.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-http: HTTP/1.1 server on the Leader/Followers pattern"};
  lf::apps::CommonOptions options;
  lf::apps::add_common_options(app, options, 8080);
  std::string root;
  app.add_option("--root", root, "serve static files from this directory")
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);
  return lf::apps::run_program("lf-http", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::HttpConnection>(
        lf::apps::listen_address(options), lf::apps::listen_options(options),
        lf::apps::demo_http_service(root));
    return fmt::format("lf-http listening on {}; try: curl http://127.0.0.1:{}/hello",
                       bound.to_string(), bound.port());
  });
}
