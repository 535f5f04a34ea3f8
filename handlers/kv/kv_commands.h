// Public. The key-value server's commands: a table of Redis 7 commands (name, arity, key
// positions, implementation) and execute(), which checks a request against it and writes the
// reply, with Redis's wording for every error. Thread safe (the store is; the session and the
// writer belong to the calling connection).
#pragma once

#include <span>
#include <string_view>

#include "lf/handlers/kv/kv_session.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/handlers/kv/resp_writer.h"

namespace lf {

// The version INFO and HELLO report.
inline constexpr std::string_view kKvServerVersion = "7.0.0-lf";

// Runs one command (args[0] is its name, in any case) and appends its reply to `out`. QUIT marks
// the session closing.
void execute_command(std::span<const std::string_view> args, KvStore& store, KvSession& session,
                     RespWriter& out);

// The number of commands in the table (COMMAND COUNT).
[[nodiscard]] std::size_t command_count() noexcept;

}  // namespace lf
