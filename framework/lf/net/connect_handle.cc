#include "lf/net/connect_handle.h"

#include <utility>

#include "lf/net/connect_request.h"
#include "lf/net/stream_connection.h"

namespace lf {

ConnectHandle::ConnectHandle(std::shared_ptr<ConnectRequest> request) noexcept
    : request_(std::move(request)) {}

ConnectStatus ConnectHandle::status() const {
  return request_ ? request_->status() : ConnectStatus::kCancelled;
}

int ConnectHandle::error() const { return request_ ? request_->error() : 0; }

std::string ConnectHandle::failure() const {
  return request_ ? request_->failure() : std::string();
}

std::shared_ptr<StreamConnection> ConnectHandle::connection() const {
  return request_ ? request_->connection() : nullptr;
}

void ConnectHandle::cancel() {
  if (request_) request_->cancel();
}

void ConnectHandle::disconnect() {
  cancel();
  if (const auto connection = this->connection()) connection->shutdown();
}

}  // namespace lf
