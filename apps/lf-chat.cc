// lf-chat: a line-based chat room; every line reaches every other client. Try two terminals
// with `nc 127.0.0.1 7008`.
#include <fmt/core.h>

#include <memory>

#include "lf/app/app_options.h"
#include "lf/handlers/chat/chat_connection.h"
#include "lf/handlers/chat/chat_room.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-chat: chat room server on the Leader/Followers pattern"};
  lf::app::CommonOptions options;
  lf::app::add_common_options(app, options, 7008);
  lf::app::add_tls_options(app, options);
  CLI11_PARSE(app, argc, argv);
  return lf::app::run_program("lf-chat", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::ChatConnection>(
        lf::app::listen_address(options), lf::app::listen_options(options),
        std::make_shared<lf::ChatRoom>());
    if (!options.tls_cert.empty()) {
      return fmt::format(
          "lf-chat listening on {} (TLS); try (in two terminals): openssl s_client -quiet "
          "-connect 127.0.0.1:{}",
          bound.to_string(), bound.port());
    }
    return fmt::format("lf-chat listening on {}; try (in two terminals): nc 127.0.0.1 {}",
                       bound.to_string(), bound.port());
  });
}
