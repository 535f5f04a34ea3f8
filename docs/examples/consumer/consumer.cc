// A program outside the lf tree: a custom handler served by lf, lf::EchoConnection from
// lf::handlers, and the command-line flags of lf's own programs from lf::app (--threads,
// --model, --max-threads, ...). It answers one request on each listener on loopback with a
// client of its own, then exits 0.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "lf/app/app_options.h"
#include "lf/handlers/echo/echo_connection.h"
#include "lf/server.h"

// Answers each line "NAME\n" with "hello, NAME\n".
class Greeter : public lf::StreamConnection {
  void on_message(lf::Buffer& input) override {
    while (const char* eol = input.find_eol()) {
      std::string reply("hello, ");
      reply.append(input.peek(), eol + 1);
      send(reply);
      input.retrieve_until(eol + 1);
    }
  }
};

// One blocking request: sends `request`, reads until the server closes the connection.
std::string ask(const lf::InetAddress& server, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  std::string reply;
  if (fd >= 0 && ::connect(fd, server.sockaddr_ptr(), server.length()) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    ::shutdown(fd, SHUT_WR);  // lf closes once it has answered and seen our FIN
    char buffer[256];
    ssize_t n = 0;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
      reply.append(buffer, static_cast<std::size_t>(n));
    }
  }
  if (fd >= 0) ::close(fd);
  return reply;
}

int main(int argc, char** argv) {
  CLI::App cli("lf consumer example");
  lf::app::CommonOptions flags;
  lf::app::add_common_options(cli, flags, /*default_port=*/0);
  flags.threads = 2;  // the default unless --threads says otherwise
  CLI11_PARSE(cli, argc, argv);
  lf::ServerOptions options = lf::app::server_options(flags);
  options.handle_signals = false;
  lf::Server server(options);
  const lf::InetAddress greeter = server.listen<Greeter>(lf::InetAddress(0, /*loopback=*/true));
  const lf::InetAddress echo =
      server.listen<lf::EchoConnection>(lf::InetAddress(0, /*loopback=*/true));
  server.start();
  const std::string greeting = ask(greeter, "lf\n");
  const std::string echoed = ask(echo, "ping\n");
  server.stop();
  server.wait();
  std::printf("%s%s", greeting.c_str(), echoed.c_str());
  return greeting == "hello, lf\n" && echoed == "ping\n" ? 0 : 1;
}
