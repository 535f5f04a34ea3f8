// Test support: a Server with one listener built from a ConnectionFactory, for handlers that need
// constructor arguments (test::BackgroundServer only takes default-constructible ones).
#pragma once

#include <memory>
#include <utility>

#include "lf/net/inet_address.h"
#include "lf/server.h"

namespace lf::test {

// A factory making a new Handler from copies of `args` for each connection.
template <typename Handler, typename... Args>
ConnectionFactory factory_of(Args... args) {
  return [args...] { return std::make_shared<Handler>(args...); };
}

// Runs in the background from construction until stop() or destruction.
class RunningServer {
 public:
  RunningServer(ConnectionFactory factory, const ServerOptions& options,
                const InetAddress& where = InetAddress(0, /*loopback=*/true))
      : server_(std::make_unique<Server>(options)) {
    address_ = server_->listen(where, std::move(factory));
    server_->start();
  }
  ~RunningServer() { stop(); }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  // Stops gracefully (Server::stop, then wait: connections drain). Idempotent.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    server_->stop();
    server_->wait();
  }
  [[nodiscard]] Server& server() noexcept { return *server_; }
  [[nodiscard]] const InetAddress& address() const noexcept { return address_; }

 private:
  std::unique_ptr<Server> server_;
  InetAddress address_;
  bool stopped_ = false;
};

}  // namespace lf::test
