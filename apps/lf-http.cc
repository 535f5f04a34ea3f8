// lf-http: an HTTP/1.1 server: static files from --root, GET /hello and GET /metrics.
// Try it with `curl http://127.0.0.1:8080/hello`.
#include <fmt/core.h>

#include <string>

#include "lf/app/app_options.h"
#include "lf/handlers/http/http_connection.h"
#include "http_routes.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-http: HTTP/1.1 server on the Leader/Followers pattern"};
  lf::app::CommonOptions options;
  lf::app::add_common_options(app, options, 8080);
  lf::app::add_tls_options(app, options);
  std::string root;
  app.add_option("--root", root, "serve static files from this directory")
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);
  return lf::app::run_program("lf-http", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::HttpConnection>(
        lf::app::listen_address(options), lf::app::listen_options(options),
        lf::demo::demo_http_service(root));
    if (!options.tls_cert.empty()) {
      return fmt::format("lf-http listening on {} (TLS); try: curl --cacert {} https://{}:{}/hello",
                         bound.to_string(), options.tls_cert, "localhost", bound.port());
    }
    return fmt::format("lf-http listening on {}; try: curl http://127.0.0.1:{}/hello",
                       bound.to_string(), bound.port());
  });
}
