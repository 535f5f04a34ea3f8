// Public. UdpEchoHandler: sends every datagram back to its sender (RFC 862 over UDP). The
// smallest useful DatagramHandler; on_datagram() runs on ThreadSet threads, one at a time.
#pragma once

#include "lf/net/datagram_handler.h"

namespace lf {

class UdpEchoHandler : public DatagramHandler {
 public:
  using DatagramHandler::DatagramHandler;

 protected:
  void on_datagram(std::string_view data, const InetAddress& from) override;
};

}  // namespace lf
