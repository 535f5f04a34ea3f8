// docs/writing-a-handler.md, "A client": connects with lf::Connector, sends one line, prints the
// answer. Try it against lf-echo: line_client 127.0.0.1:7007 hello
#include <cstdio>
#include <string>

#include "lf/server.h"

// Sends a line on connect, prints the first line that comes back, then stops the Server.
class LineClient : public lf::StreamConnection {
 public:
  LineClient(lf::Server* server, std::string line) : server_(server), line_(std::move(line)) {
    line_.push_back('\n');
  }

 protected:
  void on_connect() override { send(line_); }
  void on_message(lf::Buffer& input) override {
    if (const char* eol = input.find_eol()) {
      std::printf("%.*s\n", static_cast<int>(eol - input.peek()), input.peek());
      input.retrieve_until(eol + 1);
      server_->stop();  // thread safe: run() returns once the connection is closed
    }
  }

 private:
  lf::Server* server_;
  std::string line_;
};

int main(int argc, char** argv) {
  const auto address = lf::InetAddress::parse(argc > 1 ? argv[1] : "127.0.0.1:7007");
  if (!address) return 2;
  lf::Server server;
  int failed = 0;
  lf::ConnectOptions options;
  options.timeout = std::chrono::seconds(2);  // per attempt
  options.retries = 3;                        // after 100, 200 and 400 ms
  options.on_failure = [&](const lf::InetAddress& to, int error) {
    std::fprintf(stderr, "cannot connect to %s: error %d\n", to.to_string().c_str(), error);
    failed = 1;
    server.stop();
  };
  server.connect<LineClient>(*address, options, &server, std::string(argc > 2 ? argv[2] : "hello"));
  server.run();
  return failed;
}
