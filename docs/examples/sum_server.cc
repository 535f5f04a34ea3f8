// docs/writing-a-handler.md builds this server step by step. Try: see the end of that page.
#include <endian.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "lf/handlers/codec/length_prefixed_connection.h"
#include "lf/server.h"

// The "sum" protocol. A request is one frame whose payload is a list of 64-bit big-endian
// signed integers; the reply is one frame holding their sum (modulo 2^64) in the same encoding.
// A payload whose size is not a multiple of 8 gets an empty frame back.
class SumConnection : public lf::LengthPrefixedConnection {
 public:
  // A request of more than 1000 numbers (8000 bytes) closes the connection.
  SumConnection() : lf::LengthPrefixedConnection(8 * 1000) {}

 protected:
  void on_frame(std::string_view payload) override {
    lf::Buffer reply;
    if (payload.size() % 8 == 0) {
      std::uint64_t sum = 0;  // unsigned: overflow wraps instead of being undefined
      for (std::size_t i = 0; i < payload.size(); i += 8) {
        std::uint64_t number = 0;
        std::memcpy(&number, payload.data() + i, 8);
        sum += be64toh(number);
      }
      reply.append_int64(static_cast<std::int64_t>(sum));
    }
    send_frame(reply);  // the length goes in front of the reply, in place
  }
};

int main() {
  lf::Server server;
  server.listen<SumConnection>(lf::InetAddress(7200));
  server.run();  // until Ctrl-C
}
