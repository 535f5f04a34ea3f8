// docs/writing-a-handler.md, "A UDP service": answers each datagram with how many it has seen.
// Try: echo hi | nc -u -w1 127.0.0.1 7201
#include <cstdint>
#include <string>

#include "lf/server.h"

class Counter : public lf::DatagramHandler {
 public:
  using lf::DatagramHandler::DatagramHandler;  // (const InetAddress&, const DatagramOptions&)

 protected:
  // One call at a time per handler, so the counter needs no lock.
  void on_datagram(std::string_view data, const lf::InetAddress& from) override {
    ++count_;
    std::string reply = std::to_string(count_);
    reply.append(": ").append(data);
    send_to(reply, from);  // batched with the other replies of this read (sendmmsg)
  }

 private:
  std::uint64_t count_ = 0;
};

int main() {
  lf::Server server;
  server.listen_udp<Counter>(lf::InetAddress(7201));
  server.run();  // until SIGINT or SIGTERM
}
