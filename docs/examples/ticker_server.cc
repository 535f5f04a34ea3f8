// docs/writing-a-handler.md, "Timers" and "Saying goodbye": per-connection timers and on_drain().
// Try it: ticker_server, then `nc 127.0.0.1 7202`; type a line to stop the ticks, Ctrl-C the
// server to see the goodbye.
#include <chrono>
#include <string>

#include "lf/server.h"

using namespace std::chrono_literals;

// Sends "tick N" every second until the client sends a line, ends the session after a minute,
// and says goodbye when the server stops.
class Ticker : public lf::StreamConnection {
 protected:
  void on_connect() override {
    // Each timer runs its own callback, like a hook: capturing `this` is safe, since no
    // callback runs after on_close().
    ticks_ = start_periodic(1s, [this] { send("tick " + std::to_string(++count_) + "\n"); });
    start_timer(1min, [this] {
      send("time is up\n");
      shutdown();
    });
  }
  void on_message(lf::Buffer& input) override {
    if (input.find_eol() != nullptr) cancel_timer(ticks_);  // any line stops the ticks
    input.retrieve_all();
  }
  void on_drain() override {  // the server is stopping
    send("server stopping, goodbye\n");
    shutdown();  // the goodbye is written before the FIN
  }

 private:
  lf::TimerId ticks_;
  int count_ = 0;
};

int main() {
  lf::Server server;
  server.listen<Ticker>(lf::InetAddress(7202));
  server.run();  // until SIGINT or SIGTERM
}
