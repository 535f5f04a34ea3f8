// Test support: a loopback listener that never accepts, with a backlog of 0 and its accept queue
// filled, so the kernel drops further SYNs and a connect to it stays in SYN_SENT (pending) until
// its timeout or a cancel.
#pragma once

#include <sys/socket.h>

#include <vector>

#include "lf/net/inet_address.h"
#include "lf/net/socket.h"

namespace lf::test {

struct FullListener {
  Socket socket = Socket::listen(InetAddress(0, /*loopback=*/true), ListenSocketOptions{.backlog = 0});
  InetAddress address = InetAddress::local_of(socket.fd());
  std::vector<Socket> fillers;

  FullListener() {
    for (int i = 0; i < 4; ++i) {
      fillers.push_back(Socket::stream(AF_INET));
      (void)::connect(fillers.back().fd(), address.sockaddr_ptr(), address.length());
    }
  }
};

}  // namespace lf::test
