#include "lf/app/app_options.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <thread>

#include "lf/log/log.h"

namespace lf::app {

void add_common_options(CLI::App& app, CommonOptions& options, std::uint16_t default_port) {
  options.port = default_port;
  options.threads = std::max(1u, std::thread::hardware_concurrency());
  app.set_version_flag("--version", std::string("lf ") + LF_VERSION);
  if (default_port != 0) {
    app.add_option("-p,--port", options.port, "TCP port to listen on")->capture_default_str();
  }
  app.add_option("--host", options.host, "address to bind (IPv4 or IPv6, numeric)")
      ->capture_default_str();
  app.add_option("-t,--threads", options.threads,
                 "threads in the ThreadSet (reactor: connection loops; hsha: workers)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-threads", options.max_threads,
                 fmt::format("Leader/Followers models: while every thread is busy (blocking "
                             "handlers), start more threads, up to this many; extra threads leave "
                             "after {} s idle (default: {} x --threads; equal to --threads: a "
                             "fixed set)",
                             kDefaultShrinkAfter.count() / 1000, kDefaultGrowthFactor))
      ->check(CLI::Range(1, 4096));
  std::string names;
  for (const Model model : all_models()) {
    if (!names.empty()) names.append(", ");
    names.append(to_string(model));
  }
  app.add_option_function<std::string>(
         "--model",
         [&options](const std::string& name) {
           if (const auto model = parse_model(name)) options.model = *model;
         },
         fmt::format("concurrency model: {} (default: {})", names, to_string(kDefaultModel)))
      ->check([](const std::string& name) {
        return parse_model(name) ? std::string() : fmt::format("unknown model: {}", name);
      });
  app.add_option("--idle-timeout", options.idle_timeout_s,
                 "close connections silent for this many seconds (0: never)")
      ->capture_default_str();
  app.add_option("--max-connections", options.max_connections,
                 "open connections per listener; more are closed at once (0: no limit)")
      ->capture_default_str();
  app.add_option("--log-dir", options.log_dir, "write rolling log files here (default: stderr)");
  app.add_option("--log-level", options.log_level,
                 "trace, debug, info, warn, error or fatal (default: LF_LOG_LEVEL, else info)")
      ->check([](const std::string& name) {
        return log::parse_level(name) ? std::string() : "unknown log level: " + name;
      });
}

namespace {

// "off", "optional", "required".
std::optional<TlsClientAuth> parse_client_auth(const std::string& name) {
  if (name == "off") return TlsClientAuth::kOff;
  if (name == "optional") return TlsClientAuth::kOptional;
  if (name == "required") return TlsClientAuth::kRequired;
  return std::nullopt;
}

// A flag that may be repeated: the first value goes to `first`, the others to `more`.
CLI::Option* add_repeatable_file(CLI::App& app, const std::string& name, std::string& first,
                                 std::vector<std::string>& more, const std::string& help) {
  return app
      .add_option_function<std::vector<std::string>>(
          name,
          [&first, &more](const std::vector<std::string>& files) {
            first = files.front();
            more.assign(files.begin() + 1, files.end());
          },
          help)
      ->allow_extra_args(false)  // one file per occurrence: the next word is not another one
      ->check(CLI::ExistingFile);
}

}  // namespace

void add_tls_options(CLI::App& app, CommonOptions& options) {
  auto* cert = add_repeatable_file(
      app, "--tls-cert", options.tls_cert, options.tls_sni_certs,
      "serve TLS with this certificate chain (PEM: the certificate, then its intermediates); "
      "repeat --tls-cert/--tls-key for more certificates, chosen by the name the client asks "
      "for (SNI), the first being the default");
  auto* key =
      add_repeatable_file(app, "--tls-key", options.tls_key, options.tls_sni_keys,
                          "the certificate's private key (PEM), in the order of --tls-cert");
  cert->needs(key);
  key->needs(cert);
  app.add_option("--tls-ca", options.tls_ca,
                 "CA certificates (PEM) that client certificates must be issued by")
      ->check(CLI::ExistingFile)
      ->needs(cert);
  app.add_option_function<std::string>(
         "--tls-client-auth",
         [&options](const std::string& name) {
           if (const auto mode = parse_client_auth(name)) options.tls_client_auth = *mode;
         },
         "ask TLS clients for a certificate: off, optional (verified if sent) or required "
         "(needs --tls-ca; default: off)")
      ->check([](const std::string& name) {
        return parse_client_auth(name) ? std::string() : "expected off, optional or required";
      })
      ->needs(cert);
}

void start_logging(const CommonOptions& options) {
  // An explicit flag wins over LF_LOG_LEVEL; without one the environment (or info) applies.
  if (const auto level = log::parse_level(options.log_level)) log::set_level(*level);
  log::LogOptions log_options;
  log_options.dir = options.log_dir;
  log::init(log_options);
}

int run_program(std::string_view program, const CommonOptions& options,
                const std::function<std::string(Server&)>& listen) {
  try {
    start_logging(options);
    Server server(server_options(options));
    const std::string banner = listen(server);
    // Started before the banner: whoever waits for it may connect, or send SIGTERM, at once.
    server.start();
    fmt::print("{}\n", banner);
    std::fflush(stdout);
    LF_LOG_INFO("{} running with {} threads, model {}", program, server.dispatcher().threads(),
                to_string(server.dispatcher().model()));
    server.wait();
    LF_LOG_INFO("{} stopped", program);
    fmt::print("{} stopped\n", program);
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "{}: {}\n", program, error.what());
    return 1;
  }
}

ServerOptions server_options(const CommonOptions& options) {
  ServerOptions server;
  server.threads = options.threads;
  server.max_threads = options.max_threads;
  server.model = options.model;
  return server;
}

ListenOptions listen_options(const CommonOptions& options) {
  ListenOptions listen;
  listen.idle_timeout = std::chrono::seconds(options.idle_timeout_s);
  listen.max_connections = options.max_connections;
  if (!options.tls_cert.empty()) {
    if (options.tls_sni_certs.size() != options.tls_sni_keys.size()) {
      throw std::runtime_error("every --tls-cert needs its own --tls-key (given as often)");
    }
    TlsOptions tls{.cert_chain_file = options.tls_cert, .key_file = options.tls_key};
    for (std::size_t i = 0; i < options.tls_sni_certs.size(); ++i) {
      tls.sni_certificates.push_back({options.tls_sni_certs[i], options.tls_sni_keys[i]});
    }
    tls.client_ca_file = options.tls_ca;
    tls.client_auth = options.tls_client_auth;
    if (tls.client_auth != TlsClientAuth::kOff && tls.client_ca_file.empty()) {
      throw std::runtime_error("--tls-client-auth optional or required needs --tls-ca");
    }
    // Without a mode no client is asked for a certificate: a CA given alone would be ignored,
    // and the operator would believe clients are checked.
    if (tls.client_auth == TlsClientAuth::kOff && !tls.client_ca_file.empty()) {
      throw std::runtime_error(
          "--tls-ca is used only with --tls-client-auth optional or required (clients are not "
          "asked for a certificate otherwise)");
    }
    listen.tls = TlsContext::create(tls);
  }
  return listen;
}

InetAddress listen_address(const CommonOptions& options) {
  return listen_address(options, options.port);
}

InetAddress listen_address(const CommonOptions& options, std::uint16_t port) {
  const auto address = InetAddress::parse(options.host, port);
  if (!address) throw std::runtime_error("not a numeric IP address: " + options.host);
  return *address;
}

}  // namespace lf::app
