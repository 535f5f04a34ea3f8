#include "lf/handlers/udp_echo/udp_echo_handler.h"

namespace lf {

void UdpEchoHandler::on_datagram(std::string_view data, const InetAddress& from) {
  send_to(data, from);  // sent in one sendmmsg batch with the rest of this read batch
}

}  // namespace lf
