// lf-proxy: a TCP proxy built from lf's Acceptor, Connector and StreamConnection (the logic is
// handlers/proxy/). Each accepted connection gets its own upstream connection; bytes flow both
// ways with backpressure and half-close. Try: lf-echo --port 7007, then
// lf-proxy --listen 7100 --to 127.0.0.1:7007 and `echo hello | nc -N 127.0.0.1 7100`. TLS on
// either side or both: --tls-cert/--tls-key terminate it, --upstream-tls originates it.
#include <fmt/core.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "lf/app/app_options.h"
#include "lf/handlers/proxy/proxy_connection.h"
#include "lf/net/tls_context.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-proxy: forwards TCP connections to another address"};
  lf::app::CommonOptions options;
  lf::app::add_common_options(app, options, 0);
  lf::app::add_tls_options(app, options);  // --tls-cert/--tls-key: clients reach the proxy over TLS
  bool upstream_tls = false;
  std::string upstream_ca;
  std::string upstream_server_name;
  std::uint16_t listen_port = 0;
  std::string to;
  std::size_t high_water_kib = 1024;
  app.add_option("--listen", listen_port, "port to accept connections on")->required();
  app.add_option("--to", to, "upstream HOST:PORT (numeric IPv4, or [IPv6]:PORT)")->required();
  app.add_option("--high-water-kib", high_water_kib,
                 "pause reading one side while the other side has more than this to send")
      ->capture_default_str();
  app.add_flag("--upstream-tls", upstream_tls,
               "speak TLS to the upstream, verifying its certificate");
  app.add_option("--upstream-ca", upstream_ca,
                 "PEM file of the CAs trusted for the upstream (default: the system store)")
      ->needs("--upstream-tls");
  app.add_option("--upstream-server-name", upstream_server_name,
                 "name the upstream's certificate must carry, also sent as SNI (default: its IP "
                 "address must be in the certificate)")
      ->needs("--upstream-tls");
  CLI11_PARSE(app, argc, argv);

  const auto upstream = lf::InetAddress::parse(to);
  if (!upstream || upstream->port() == 0) {
    fmt::print(stderr, "lf-proxy: --to needs a numeric HOST:PORT, got '{}'\n", to);
    return 1;
  }
  return lf::app::run_program("lf-proxy", options, [&](lf::Server& server) {
    lf::ProxyOptions proxy;
    proxy.upstream = *upstream;
    proxy.high_water_mark = high_water_kib * 1024;
    if (upstream_tls) {
      lf::TlsClientOptions client;
      client.ca_file = upstream_ca;  // empty: the system store
      proxy.upstream_tls = lf::TlsContext::create_client(client);
      proxy.upstream_server_name = upstream_server_name;
    }
    const lf::InetAddress bound = server.listen<lf::ProxyConnection>(
        lf::app::listen_address(options, listen_port), lf::app::listen_options(options), proxy);
    return fmt::format("lf-proxy: {}{} -> {}{} with {} threads",
                       options.tls_cert.empty() ? "" : "tls://", bound.to_string(),
                       upstream_tls ? "tls://" : "", upstream->to_string(),
                       server.dispatcher().threads());
  });
}
