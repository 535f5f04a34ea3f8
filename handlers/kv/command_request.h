// Internal to handlers/kv. CommandRequest: what a command implementation gets (the arguments,
// the locked part of the store, the client's session, the reply writer), the implementations'
// declarations, and helpers they share. Used by one connection's thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lf/handlers/kv/kv_session.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/handlers/kv/resp_writer.h"

namespace lf {

struct CommandRequest {
  std::span<const std::string_view> args;
  // Only for what Access cannot do (WATCH registers with the store, locking by itself): a
  // command must not lock the store while `db` holds shards, or it deadlocks.
  KvStore& store;
  KvStore::Access& db;  // the shards of the command's keys, locked for the whole command
  KvSession& session;
  RespWriter& out;
  std::string_view name;  // the command's canonical (lower-case) name, e.g. "set"
};

using CommandFunction = void (*)(CommandRequest&);

// How a command is locked, beyond the shards of its keys.
enum CommandFlags : unsigned {
  kLockKeys = 0,          // the shards of its keys (none if it has no keys)
  kWholeKeyspace = 1,     // every shard (KEYS, SCAN, DBSIZE, FLUSHALL, ...)
  kLocksItself = 2,       // nothing: it locks what it needs (EXEC, WATCH)
};

// One row of the command table: what execute_command() needs to check and run a call. The rest
// of what COMMAND INFO and DOCS say about the command is its CommandMeta, found by name
// (command_meta.h; kv_test checks that every row has one, with the same arity and keys).
struct CommandSpec {
  std::string_view name;
  int arity;  // n > 0: exactly n arguments (with the name); -n: at least n
  CommandFunction run;
  int first_key = 0;
  int last_key = 0;  // negative: counted from the end (-1: the last argument)
  int key_step = 0;
  unsigned flags = kLockKeys;
};

[[nodiscard]] std::span<const CommandSpec> command_table() noexcept;
// The command named `name` (any case), or nullptr.
[[nodiscard]] const CommandSpec* find_command(std::string_view name);
// The key arguments of a call of `spec` (by its key positions).
[[nodiscard]] std::vector<std::string_view> command_keys(const CommandSpec& spec,
                                                         std::span<const std::string_view> args);
// The shards `spec` called with `args` must hold, added to `shards`; false if it needs them all.
[[nodiscard]] bool add_command_shards(const CommandSpec& spec,
                                      std::span<const std::string_view> args,
                                      const KvStore& store, std::vector<std::size_t>& shards);

// INFO commandstats: the commands called (or refused) so far in this process.
struct CommandStats {
  std::uint64_t calls;
  std::uint64_t usec;
  std::uint64_t rejected;
  std::uint64_t failed;
};
void for_each_command_stats(const std::function<void(const CommandSpec&, const CommandStats&)>& fn);

[[nodiscard]] bool equals_ignore_case(std::string_view a, std::string_view b) noexcept;
// "ERR wrong number of arguments for 'get' command"
void reply_arity_error(RespWriter& out, std::string_view name);
// "ERR unknown subcommand 'foo'. Try CONFIG HELP."
void reply_unknown_subcommand(RespWriter& out, std::string_view command, std::string_view sub);
// Redis's addReplyErrorFormat: CR and LF become spaces.
void reply_error_text(RespWriter& out, std::string text);
// A bulk reply, or null for nullptr.
void reply_bulk_or_null(RespWriter& out, const std::string* value);
// An integer argument; otherwise replies "value is not an integer or out of range".
[[nodiscard]] bool parse_integer_or_reply(CommandRequest& request, std::string_view text,
                                          long long& value);
// The key's string, or nullptr if it is missing; a hash gets the WRONGTYPE reply and sets
// `wrong_type`.
[[nodiscard]] std::string* find_string(CommandRequest& request, std::string_view key,
                                       bool& wrong_type);
// Unix time in milliseconds, and conversions between it and the store's deadlines.
[[nodiscard]] long long unix_now_ms();
[[nodiscard]] KvStore::Deadline deadline_from_unix_ms(long long unix_ms);
// `ms` after `now` (EXPIRE, SET EX: relative times stay exact on the steady clock).
[[nodiscard]] KvStore::Deadline deadline_after(KvStore::Deadline now, long long ms);
[[nodiscard]] long long unix_ms_from_deadline(KvStore::Deadline deadline);
// CLIENT SETNAME, HELLO SETNAME: printable ASCII without spaces.
[[nodiscard]] bool valid_client_name(std::string_view name) noexcept;
// "ERR invalid expire time in 'set' command"
void reply_invalid_expire(CommandRequest& request);

// Strings (string_commands.cc).
void ping_command(CommandRequest& request);
void echo_command(CommandRequest& request);
void get_command(CommandRequest& request);
void set_command(CommandRequest& request);
void setnx_command(CommandRequest& request);
void setex_command(CommandRequest& request);
void psetex_command(CommandRequest& request);
void getset_command(CommandRequest& request);
void getdel_command(CommandRequest& request);
void getex_command(CommandRequest& request);
void incr_command(CommandRequest& request);
void decr_command(CommandRequest& request);
void incrby_command(CommandRequest& request);
void decrby_command(CommandRequest& request);
void incrbyfloat_command(CommandRequest& request);
void mget_command(CommandRequest& request);
void mset_command(CommandRequest& request);
void msetnx_command(CommandRequest& request);
void append_command(CommandRequest& request);
void strlen_command(CommandRequest& request);
void getrange_command(CommandRequest& request);
void setrange_command(CommandRequest& request);

// The keyspace (key_commands.cc).
void del_command(CommandRequest& request);
void exists_command(CommandRequest& request);
void touch_command(CommandRequest& request);
void type_command(CommandRequest& request);
void expire_command(CommandRequest& request);
void pexpire_command(CommandRequest& request);
void expireat_command(CommandRequest& request);
void pexpireat_command(CommandRequest& request);
void expiretime_command(CommandRequest& request);
void pexpiretime_command(CommandRequest& request);
void ttl_command(CommandRequest& request);
void pttl_command(CommandRequest& request);
void persist_command(CommandRequest& request);
void keys_command(CommandRequest& request);
void scan_command(CommandRequest& request);
void randomkey_command(CommandRequest& request);
void rename_command(CommandRequest& request);
void renamenx_command(CommandRequest& request);
void copy_command(CommandRequest& request);
void dbsize_command(CommandRequest& request);
void flushall_command(CommandRequest& request);

// Hashes (hash_commands.cc).
void hset_command(CommandRequest& request);
void hmset_command(CommandRequest& request);
void hsetnx_command(CommandRequest& request);
void hget_command(CommandRequest& request);
void hmget_command(CommandRequest& request);
void hdel_command(CommandRequest& request);
void hgetall_command(CommandRequest& request);
void hkeys_command(CommandRequest& request);
void hvals_command(CommandRequest& request);
void hlen_command(CommandRequest& request);
void hexists_command(CommandRequest& request);
void hstrlen_command(CommandRequest& request);
void hincrby_command(CommandRequest& request);
void hincrbyfloat_command(CommandRequest& request);
void hscan_command(CommandRequest& request);

// Transactions (transaction_commands.cc).
void multi_command(CommandRequest& request);
void exec_command(CommandRequest& request);
void discard_command(CommandRequest& request);
void watch_command(CommandRequest& request);
void unwatch_command(CommandRequest& request);

// The connection and the server (server_commands.cc).
void select_command(CommandRequest& request);
void command_command(CommandRequest& request);
void config_command(CommandRequest& request);
void client_command(CommandRequest& request);  // client_commands.cc
void quit_command(CommandRequest& request);
void hello_command(CommandRequest& request);
void info_command(CommandRequest& request);
void time_command(CommandRequest& request);

}  // namespace lf
