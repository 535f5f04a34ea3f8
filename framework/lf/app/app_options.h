// Public. lf::app (its own library, lf::app, which needs CLI11): the flags every lf program
// shares (--port, --host, --threads, --max-threads, --model, --idle-timeout, --max-connections,
// --log-dir, --log-level, --version; --tls-cert, --tls-key, --tls-ca and --tls-client-auth for
// programs that serve TLS) and turning them into Server settings, so a server of your
// own gets the same command line as lf's programs in one call (add_common_options, run_program).
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lf/server.h"

namespace lf::app {

struct CommonOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;
  std::size_t threads = 0;      // 0: one per core
  std::size_t max_threads = 0;  // --max-threads; 0: kDefaultGrowthFactor x threads
  unsigned idle_timeout_s = 0;  // 0: off
  std::size_t max_connections = 0;  // per listener; 0: no limit
  std::string log_dir;          // empty: stderr
  std::string log_level;         // empty: LF_LOG_LEVEL, else info
  Model model = kDefaultModel;  // --model NAME (lf/models/model.h)
  std::string tls_cert;         // --tls-cert FILE (PEM chain); with tls_key: serve TLS
  std::string tls_key;          // --tls-key FILE (PEM)
  // --tls-cert and --tls-key given again: more certificates, chosen by SNI, paired in order.
  std::vector<std::string> tls_sni_certs;
  std::vector<std::string> tls_sni_keys;
  std::string tls_ca;  // --tls-ca FILE: the CA that issues client certificates
  TlsClientAuth tls_client_auth = TlsClientAuth::kOff;  // --tls-client-auth off|optional|required
};

// Adds the shared flags to `app`; `default_port` is the program's own port (0: no --port flag,
// for a program that listens on several ports with flags of its own).
void add_common_options(CLI::App& app, CommonOptions& options, std::uint16_t default_port);

// What every main() does after parsing its flags: starts logging, builds a Server from the flags,
// lets `listen` add the listeners (it returns the banner to print), runs until SIGINT/SIGTERM.
// Returns the exit status: 0 after a clean stop, 1 (with the error on stderr) on failure.
int run_program(std::string_view program, const CommonOptions& options,
                const std::function<std::string(Server&)>& listen);

// Adds --tls-cert FILE and --tls-key FILE (each needs the other; repeated, they pair up in order:
// the first pair is the default certificate, the others are chosen by SNI), --tls-ca FILE and
// --tls-client-auth off|optional|required: a program that can serve its protocol over TLS calls
// this after add_common_options(); listen_options() then serves TLS.
void add_tls_options(CLI::App& app, CommonOptions& options);

// Starts the logger as the flags say. Throws std::runtime_error for a bad level or log dir.
void start_logging(const CommonOptions& options);

[[nodiscard]] ServerOptions server_options(const CommonOptions& options);
// With --tls-cert, the listener serves TLS: throws std::runtime_error (naming the file) when the
// certificate or key cannot be loaded, when --tls-cert and --tls-key are not given as often, or
// when client certificates are asked for without --tls-ca.
[[nodiscard]] ListenOptions listen_options(const CommonOptions& options);
// host:port; throws std::runtime_error if the host is not a numeric address.
[[nodiscard]] InetAddress listen_address(const CommonOptions& options);
[[nodiscard]] InetAddress listen_address(const CommonOptions& options, std::uint16_t port);

}  // namespace lf::app
