// Public. ProxyConnection: one side of a TCP proxy. The side a listener accepts connects to the
// upstream address with a Connector and forwards bytes both ways. Backpressure in both
// directions: a side stops reading while its partner's output is above the high-water mark and
// resumes once the partner has written everything. A FIN is passed on as a half-close, so a
// request/response protocol that half-closes still works. A client that leaves while the upstream
// connect is pending cancels it. Hooks run on ThreadSet threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "lf/net/buffer.h"
#include "lf/net/connector.h"
#include "lf/net/inet_address.h"
#include "lf/net/stream_connection.h"

namespace lf {

struct ProxyOptions {
  InetAddress upstream;                          // where accepted connections are forwarded
  std::size_t high_water_mark = 1024 * 1024;     // per side: pause the partner above this
  std::chrono::milliseconds connect_timeout{5000};
  int connect_retries = 2;
  // Speak TLS to the upstream with this client context (TlsContext::create_client; null:
  // plaintext), checking its certificate against upstream_server_name (empty: its IP address).
  std::shared_ptr<TlsContext> upstream_tls{};
  std::string upstream_server_name{};
};

class ProxyConnection : public StreamConnection {
 public:
  // The accepted (downstream) side; it opens the upstream side in on_connect().
  explicit ProxyConnection(ProxyOptions options);
  // The upstream side, paired with `downstream` (gone if it closed while connecting).
  ProxyConnection(ProxyOptions options, std::weak_ptr<ProxyConnection> downstream);

  // Thread safe. The other side, once connected (null before, or once it is gone).
  [[nodiscard]] std::shared_ptr<ProxyConnection> partner() const;

 protected:
  void on_connect() override;
  void on_message(Buffer& input) override;
  void on_peer_closed() override;
  void on_write_complete() override;
  void on_close() override;

 private:
  // Called on the upstream side's thread once it is connected: hands over what arrived before.
  // False if this side has closed meanwhile.
  bool attach(const std::shared_ptr<ProxyConnection>& partner);
  // Above the partner's high-water mark: stop reading until it has written everything.
  void hold_if_partner_full(ProxyConnection& partner);

  const ProxyOptions options_;
  const bool downstream_;
  mutable std::mutex mutex_;
  std::weak_ptr<ProxyConnection> partner_;  // guarded by mutex_
  Buffer early_input_;                      // guarded by mutex_: read before upstream connected
  bool early_eof_ = false;                  // guarded by mutex_
  bool closed_ = false;                     // guarded by mutex_
  ConnectHandle upstream_connect_;          // downstream side; touched only by its own hooks
};

}  // namespace lf
