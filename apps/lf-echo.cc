// lf-echo: a multi-threaded TCP echo server built on lf. Try it with `nc 127.0.0.1 7007`.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdint>
#include <exception>
#include <string>
#include <thread>

#include "echo/echo_connection.h"
#include "lf/server.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-echo: TCP echo server on the Leader/Followers pattern"};
  std::uint16_t port = 7007;
  std::string host = "0.0.0.0";
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("-p,--port", port, "TCP port to listen on")->capture_default_str();
  app.add_option("--host", host, "address to bind (IPv4 or IPv6)")->capture_default_str();
  app.add_option("-t,--threads", threads, "threads in the ThreadSet")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  CLI11_PARSE(app, argc, argv);

  const auto address = lf::InetAddress::parse(host, port);
  if (!address) {
    fmt::print(stderr, "lf-echo: not a numeric IP address: {}\n", host);
    return 2;
  }
  try {
    lf::Server server(lf::ServerOptions{.threads = threads});
    const lf::InetAddress bound = server.listen<lf::EchoConnection>(*address);
    fmt::print("lf-echo listening on {} with {} threads; try: nc 127.0.0.1 {}\n",
               bound.to_string(), threads, bound.port());
    std::fflush(stdout);
    server.run();  // until SIGINT or SIGTERM
    fmt::print("lf-echo stopped\n");
  } catch (const std::exception& error) {
    fmt::print(stderr, "lf-echo: {}\n", error.what());
    return 1;
  }
  return 0;
}
