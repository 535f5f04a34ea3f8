// lf-chat: a line-based chat room; every line reaches every other client. Try two terminals
// with `nc 127.0.0.1 7008`.
#include <fmt/core.h>

#include <memory>

#include "app_options.h"
#include "chat/chat_connection.h"
#include "chat/chat_room.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-chat: chat room server on the Leader/Followers pattern"};
  lf::apps::CommonOptions options;
  lf::apps::add_common_options(app, options, 7008);
  CLI11_PARSE(app, argc, argv);
  return lf::apps::run_program("lf-chat", options, [&](lf::Server& server) {
    const lf::InetAddress bound = server.listen<lf::ChatConnection>(
        lf::apps::listen_address(options), lf::apps::listen_options(options),
        std::make_shared<lf::ChatRoom>());
    return fmt::format("lf-chat listening on {}; try (in two terminals): nc 127.0.0.1 {}",
                       bound.to_string(), bound.port());
  });
}
