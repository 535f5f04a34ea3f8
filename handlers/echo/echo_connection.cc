#include "echo/echo_connection.h"

namespace lf {

void EchoConnection::on_message(Buffer& input) { send(input); }

}  // namespace lf
