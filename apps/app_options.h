// Internal to apps/: the flags every lf program shares (--port, --threads, --model,
// --idle-timeout, --log-dir, --log-level, --host, --version) and turning them into Server settings.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lf/server.h"

namespace lf::apps {

struct CommonOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;
  std::size_t threads = 0;      // 0: one per core
  std::size_t max_threads = 0;  // --max-threads; 0: kDefaultGrowthFactor x threads
  unsigned idle_timeout_s = 0;  // 0: off
  std::size_t max_connections = 0;  // per listener; 0: no limit
  std::string log_dir;          // empty: stderr
  std::string log_level;         // empty: LF_LOG_LEVEL, else info
  Model model = kDefaultModel;  // --model NAME (lf/model.h)
};

// Adds the shared flags to `app`; `default_port` is the program's own port (0: no --port flag,
// for a program that listens on several ports with flags of its own).
void add_common_options(CLI::App& app, CommonOptions& options, std::uint16_t default_port);

// What every main() does after parsing its flags: starts logging, builds a Server from the flags,
// lets `listen` add the listeners (it returns the banner to print), runs until SIGINT/SIGTERM.
// Returns the exit status: 0 after a clean stop, 1 (with the error on stderr) on failure.
int run_program(std::string_view program, const CommonOptions& options,
                const std::function<std::string(Server&)>& listen);

// Starts the logger as the flags say. Throws std::runtime_error for a bad level or log dir.
void start_logging(const CommonOptions& options);

[[nodiscard]] ServerOptions server_options(const CommonOptions& options);
[[nodiscard]] ListenOptions listen_options(const CommonOptions& options);
// host:port; throws std::runtime_error if the host is not a numeric address.
[[nodiscard]] InetAddress listen_address(const CommonOptions& options);
[[nodiscard]] InetAddress listen_address(const CommonOptions& options, std::uint16_t port);

}  // namespace lf::apps
