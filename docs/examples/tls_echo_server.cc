// docs/writing-a-handler.md, "Serving TLS": one handler, unchanged, in plaintext on port 7000 and
// over TLS on port 7443. Run it where cert.pem and key.pem are (a self-signed pair for trying:
// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30
// -subj /CN=localhost -keyout key.pem -out cert.pem), then:
// openssl s_client -connect 127.0.0.1:7443 -CAfile cert.pem
#include "lf/handlers/echo/echo_connection.h"
#include "lf/server.h"

using lf::EchoConnection;

void serve_echo(lf::Server& server) {
  server.listen<EchoConnection>(lf::InetAddress(7000));
}

void serve_echo_over_tls(lf::Server& server) {
  lf::ListenOptions options;
  options.tls = lf::TlsContext::create({.cert_chain_file = "cert.pem", .key_file = "key.pem"});
  server.listen<EchoConnection>(lf::InetAddress(7443), options);
}

int main() {
  lf::Server server;
  serve_echo(server);
  serve_echo_over_tls(server);  // throws, naming the file, if cert.pem or key.pem cannot be loaded
  server.run();
}
