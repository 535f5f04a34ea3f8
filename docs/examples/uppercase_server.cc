// The README's example: a line protocol in a few lines. Try: nc 127.0.0.1 7100
#include <cctype>
#include <string>

#include "lf/server.h"

// Answers every line with the same line in upper case.
class UpperCase : public lf::StreamConnection {
  void on_message(lf::Buffer& input) override {
    while (const char* eol = input.find_eol()) {
      std::string line(input.peek(), eol + 1);
      for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      send(line);  // thread safe; written when this handler returns
      input.retrieve_until(eol + 1);
    }
  }
};

int main() {
  lf::Server server;                                // one thread per core
  server.listen<UpperCase>(lf::InetAddress(7100));  // any number of listeners
  server.run();                                     // until SIGINT or SIGTERM
}
