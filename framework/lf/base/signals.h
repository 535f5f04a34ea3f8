// Internal (used by Server). Process-wide signal dispositions: SIGPIPE ignored, SIGINT /
// SIGTERM turned into a write on an eventfd that the Server waits on, and SIGHUP (reload the
// certificates) into a write on another. Not thread safe: call
// from the thread that starts the Server.
#pragma once

namespace lf::signals {

// Writes to a closed socket return EPIPE instead of killing the process.
void ignore_sigpipe() noexcept;

// From now on SIGINT and SIGTERM write 1 to `fd` (an eventfd). Returns false if another fd is
// already installed.
bool install_stop_handler(int fd) noexcept;
// Restores the previous dispositions if `fd` is the installed one.
void remove_stop_handler(int fd) noexcept;

// From now on SIGHUP writes 1 to `fd` (an eventfd) instead of ending the process. Returns false
// if another fd is already installed.
bool install_reload_handler(int fd) noexcept;
// Restores the previous disposition if `fd` is the installed one.
void remove_reload_handler(int fd) noexcept;

}  // namespace lf::signals
