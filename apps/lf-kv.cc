// lf-kv: a Redis-protocol key-value store. Try it with `redis-cli -p 6380`.
#include <fmt/core.h>

#include <memory>

#include "lf/app/app_options.h"
#include "lf/handlers/kv/kv_connection.h"
#include "lf/handlers/kv/kv_store.h"

int main(int argc, char** argv) {
  CLI::App app{"lf-kv: Redis-protocol key-value store on the Leader/Followers pattern"};
  lf::app::CommonOptions options;
  lf::app::add_common_options(app, options, 6380);
  lf::app::add_tls_options(app, options);
  CLI11_PARSE(app, argc, argv);
  return lf::app::run_program("lf-kv", options, [&](lf::Server& server) {
    auto store = std::make_shared<lf::KvStore>();
    store->start_expiry_sweep(server.timers());
    const lf::InetAddress bound = server.listen<lf::KvConnection>(
        lf::app::listen_address(options), lf::app::listen_options(options), store,
        lf::KvOptions{});
    if (!options.tls_cert.empty()) {
      return fmt::format(
          "lf-kv listening on {} (TLS); try: redis-cli --tls --cacert {} -p {} set greeting hello",
          bound.to_string(), options.tls_cert, bound.port());
    }
    return fmt::format("lf-kv listening on {}; try: redis-cli -p {} set greeting hello",
                       bound.to_string(), bound.port());
  });
}
