// A key-value Server on a loopback port with the active expiry sweep running, for the tests of
// handlers/kv/ (raw sockets, hiredis, redis-cli and redis-benchmark).
#pragma once

#include <memory>
#include <string>

#include "lf/handlers/kv/kv_connection.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/server.h"

namespace lf::test {

class KvServer {
 public:
  explicit KvServer(KvOptions options = {}, ExpirySweepOptions sweep = {}) {
    ServerOptions server_options;
    server_options.threads = 4;
    server_options.handle_signals = false;
    server_ = std::make_unique<Server>(server_options);
    store_->start_expiry_sweep(server_->timers(), sweep);
    address_ = server_->listen<KvConnection>(InetAddress(0, /*loopback=*/true), ListenOptions{},
                                             store_, options);
    server_->start();
  }
  ~KvServer() {
    server_->stop();
    server_->wait();
  }
  KvServer(const KvServer&) = delete;
  KvServer& operator=(const KvServer&) = delete;

  [[nodiscard]] const InetAddress& address() const { return address_; }
  [[nodiscard]] int port() const { return address_.port(); }
  [[nodiscard]] KvStore& store() { return *store_; }

 private:
  std::shared_ptr<KvStore> store_ = std::make_shared<KvStore>();
  std::unique_ptr<Server> server_;
  InetAddress address_;
};

}  // namespace lf::test
