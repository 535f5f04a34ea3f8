// Internal to handlers/kv. CommandRequest: what a command implementation gets (the arguments,
// the store, the client's session, the reply writer), the implementations' declarations, and
// helpers they share. Used by one connection's thread at a time.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "kv/kv_session.h"
#include "kv/kv_store.h"
#include "kv/resp_writer.h"

namespace lf {

struct CommandRequest {
  std::span<const std::string_view> args;
  KvStore& store;
  KvSession& session;
  RespWriter& out;
  std::string_view name;  // the command's canonical (lower-case) name, e.g. "set"
};

using CommandFunction = void (*)(CommandRequest&);

// One row of the command table, as COMMAND INFO describes it.
struct CommandSpec {
  std::string_view name;
  int arity;  // n > 0: exactly n arguments (with the name); -n: at least n
  CommandFunction run;
  int first_key = 0;
  int last_key = 0;
  int key_step = 0;
};

[[nodiscard]] std::span<const CommandSpec> command_table() noexcept;

[[nodiscard]] bool equals_ignore_case(std::string_view a, std::string_view b) noexcept;
// "ERR wrong number of arguments for 'get' command"
void reply_arity_error(RespWriter& out, std::string_view name);
// "ERR unknown subcommand 'foo'. Try CONFIG HELP."
void reply_unknown_subcommand(RespWriter& out, std::string_view command, std::string_view sub);
// Redis's addReplyErrorFormat: CR and LF become spaces.
void reply_error_text(RespWriter& out, std::string text);

// Strings and the keyspace (string_commands.cc).
void ping_command(CommandRequest& request);
void echo_command(CommandRequest& request);
void get_command(CommandRequest& request);
void set_command(CommandRequest& request);
void del_command(CommandRequest& request);
void exists_command(CommandRequest& request);
void incr_command(CommandRequest& request);
void decr_command(CommandRequest& request);
void incrby_command(CommandRequest& request);
void decrby_command(CommandRequest& request);
void mget_command(CommandRequest& request);
void mset_command(CommandRequest& request);
void expire_command(CommandRequest& request);
void pexpire_command(CommandRequest& request);
void ttl_command(CommandRequest& request);
void pttl_command(CommandRequest& request);
void persist_command(CommandRequest& request);
void dbsize_command(CommandRequest& request);
void flushall_command(CommandRequest& request);

// The connection and the server (server_commands.cc).
void select_command(CommandRequest& request);
void command_command(CommandRequest& request);
void config_command(CommandRequest& request);
void client_command(CommandRequest& request);
void quit_command(CommandRequest& request);
void hello_command(CommandRequest& request);
void info_command(CommandRequest& request);

}  // namespace lf
