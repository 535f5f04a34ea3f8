// Public. EchoConnection: sends every byte it receives back to the peer, in order (RFC 862 over
// TCP). The smallest useful StreamConnection, and the workload of the echo benchmarks.
#pragma once

#include "lf/stream_connection.h"

namespace lf {

class EchoConnection : public StreamConnection {
 protected:
  void on_message(Buffer& input) override;
};

}  // namespace lf
