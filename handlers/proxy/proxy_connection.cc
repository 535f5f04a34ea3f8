#include "lf/handlers/proxy/proxy_connection.h"

#include <utility>

#include "lf/log/log.h"

namespace lf {

ProxyConnection::ProxyConnection(ProxyOptions options)
    : options_(std::move(options)), downstream_(true) {
  set_close_on_peer_close(false);  // a FIN is passed on; answers may still flow back
}

ProxyConnection::ProxyConnection(ProxyOptions options, std::weak_ptr<ProxyConnection> downstream)
    : options_(std::move(options)), downstream_(false), partner_(std::move(downstream)) {
  set_close_on_peer_close(false);
}

std::shared_ptr<ProxyConnection> ProxyConnection::partner() const {
  std::lock_guard lock(mutex_);
  return partner_.lock();
}

void ProxyConnection::on_connect() {
  auto self = std::static_pointer_cast<ProxyConnection>(shared_from_this());
  if (!downstream_) {
    const auto downstream = partner();
    if (!downstream || !downstream->attach(self)) force_close();  // the client left meanwhile
    return;
  }
  if (timer_service() == nullptr) {
    LF_LOG_ERROR("proxy: connection not opened by a Server (no timer service)");
    force_close();
    return;
  }
  std::weak_ptr<ProxyConnection> weak = self;
  ConnectOptions connect;
  connect.timeout = options_.connect_timeout;
  connect.retries = options_.connect_retries;
  connect.tls = options_.upstream_tls;
  connect.server_name = options_.upstream_server_name;
  connect.on_failure = [weak](const InetAddress& address, int error) {
    LF_LOG_WARN("proxy: cannot connect to {}: {}", address.to_string(),
                std::generic_category().message(error));
    if (auto downstream = weak.lock()) downstream->force_close();
  };
  // Nothing to forward to until the upstream side is connected: attach() resumes reading.
  pause_reading(true);
  upstream_connect_ = Connector::connect(
      *handle_set(), *timer_service(), options_.upstream,
      [options = options_, weak] { return std::make_shared<ProxyConnection>(options, weak); },
      std::move(connect));
}

bool ProxyConnection::attach(const std::shared_ptr<ProxyConnection>& partner) {
  bool eof = false;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    partner_ = partner;
    partner->send(early_input_);
    eof = early_eof_;
  }
  if (eof) partner->shutdown();
  pause_reading(false);
  return true;
}

void ProxyConnection::on_message(Buffer& input) {
  std::shared_ptr<ProxyConnection> target;
  {
    std::lock_guard lock(mutex_);
    target = partner_.lock();
    if (!target) {
      // Read before the upstream side connected (or after the partner closed, then dropped).
      if (downstream_) {
        early_input_.append(input.view());
        pause_reading(true);
      }
      input.retrieve_all();
      return;
    }
  }
  target->send(input);
  hold_if_partner_full(*target);
}

void ProxyConnection::hold_if_partner_full(ProxyConnection& partner) {
  if (partner.output_bytes() <= options_.high_water_mark) return;
  pause_reading(true);
  // The partner may have written everything between the check and the pause: its
  // on_write_complete() then found us not yet paused, so look again.
  if (partner.output_bytes() <= options_.high_water_mark) pause_reading(false);
}

void ProxyConnection::on_write_complete() {
  if (auto target = partner()) target->pause_reading(false);
}

void ProxyConnection::on_peer_closed() {
  std::shared_ptr<ProxyConnection> target;
  {
    std::lock_guard lock(mutex_);
    target = partner_.lock();
    if (!target) early_eof_ = true;  // passed on by attach()
  }
  if (target) target->shutdown();  // half-close: FIN after what we forwarded
}

void ProxyConnection::on_close() {
  // The client left before the upstream side connected: no socket, timer or retry is kept for
  // it. An upstream side that is already connected stays (it is shut down below).
  upstream_connect_.cancel();
  std::shared_ptr<ProxyConnection> target;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    target = partner_.lock();
    partner_.reset();
  }
  if (target) {
    // Let the partner finish what it has: flush, FIN, and read until its peer closes.
    target->pause_reading(false);
    target->shutdown();
  }
}

}  // namespace lf
