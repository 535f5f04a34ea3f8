// Internal to apps/: the HTTP service lf-http and lf-demo serve: static files from a root,
// GET /hello (the plaintext benchmark route) and GET /metrics.
#pragma once

#include <memory>
#include <string>

#include "lf/handlers/http/http_service.h"

namespace lf::demo {

// Throws std::system_error if root is set but is not a directory.
[[nodiscard]] std::shared_ptr<const HttpService> demo_http_service(const std::string& root);

}  // namespace lf::demo
