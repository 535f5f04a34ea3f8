// The connection and the server: SELECT, COMMAND, CONFIG, CLIENT, QUIT, HELLO, INFO, enough for
// redis-cli, redis-benchmark and the usual client libraries.
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <utility>

#include "kv/command_request.h"
#include "kv/integer_text.h"
#include "kv/kv_commands.h"

namespace lf {
namespace {

const auto kStartTime = std::chrono::steady_clock::now();

// Redis's stringmatchlen without [...] classes: '*', '?', '\' escapes; case-insensitive.
bool glob_match(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '*') {
    for (std::size_t skip = 0; skip <= text.size(); ++skip) {
      if (glob_match(pattern.substr(1), text.substr(skip))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern[0] == '?') return glob_match(pattern.substr(1), text.substr(1));
  if (pattern[0] == '\\' && pattern.size() > 1) pattern.remove_prefix(1);
  return equals_ignore_case(pattern.substr(0, 1), text.substr(0, 1)) &&
         glob_match(pattern.substr(1), text.substr(1));
}

// The parameters CONFIG GET knows: what redis-benchmark and monitoring tools ask for.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kConfig = {{
    {"save", ""},
    {"appendonly", "no"},
    {"databases", "1"},
    {"maxmemory", "0"},
    {"maxmemory-policy", "noeviction"},
}};

void command_entry(RespWriter& out, const CommandSpec& spec) {
  out.array(10);  // Redis 7.0: name, arity, flags, first key, last key, step, ACL categories,
  out.bulk(spec.name);  // tips, key specifications, subcommands
  out.integer(spec.arity);
  out.array(0);
  out.integer(spec.first_key);
  out.integer(spec.last_key);
  out.integer(spec.key_step);
  out.array(0);
  out.array(0);
  out.array(0);
  out.array(0);
}

const CommandSpec* find_spec(std::string_view name) {
  for (const CommandSpec& spec : command_table()) {
    if (equals_ignore_case(spec.name, name)) return &spec;
  }
  return nullptr;
}

bool valid_client_name(std::string_view name) {
  for (const char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

}  // namespace

void select_command(CommandRequest& request) {
  long long index = 0;
  if (!parse_integer(request.args[1], index) || index < INT32_MIN || index > INT32_MAX) {
    return request.out.error(kv_error::kNotInteger);
  }
  if (index != 0) return request.out.error(kv_error::kDbIndex);
  request.out.ok();
}

// COMMAND, COMMAND COUNT, COMMAND INFO [name...], COMMAND LIST, COMMAND DOCS (no docs: an empty
// reply, so redis-cli starts without help hints).
void command_command(CommandRequest& request) {
  const auto& args = request.args;
  RespWriter& out = request.out;
  if (args.size() == 1) {
    out.array(command_table().size());
    for (const CommandSpec& spec : command_table()) command_entry(out, spec);
    return;
  }
  const std::string_view sub = args[1];
  if (equals_ignore_case(sub, "count")) {
    if (args.size() != 2) return reply_arity_error(out, "command|count");
    return out.integer(static_cast<long long>(command_count()));
  }
  if (equals_ignore_case(sub, "docs")) return out.array(0);
  if (equals_ignore_case(sub, "list")) {
    out.array(command_table().size());
    for (const CommandSpec& spec : command_table()) out.bulk(spec.name);
    return;
  }
  if (equals_ignore_case(sub, "info")) {
    if (args.size() == 2) {
      out.array(command_table().size());
      for (const CommandSpec& spec : command_table()) command_entry(out, spec);
      return;
    }
    out.array(args.size() - 2);
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (const CommandSpec* spec = find_spec(args[i])) {
        command_entry(out, *spec);
      } else {
        out.null();
      }
    }
    return;
  }
  reply_unknown_subcommand(out, args[0], sub);
}

// CONFIG GET pattern [pattern...], CONFIG SET (nothing can be set), CONFIG RESETSTAT.
void config_command(CommandRequest& request) {
  const auto& args = request.args;
  RespWriter& out = request.out;
  const std::string_view sub = args[1];
  if (equals_ignore_case(sub, "get")) {
    if (args.size() < 3) return reply_arity_error(out, "config|get");
    std::vector<std::pair<std::string_view, std::string_view>> matches;
    for (const auto& parameter : kConfig) {
      for (std::size_t i = 2; i < args.size(); ++i) {
        if (glob_match(args[i], parameter.first)) {
          matches.push_back(parameter);
          break;
        }
      }
    }
    out.array(matches.size() * 2);
    for (const auto& [name, value] : matches) {
      out.bulk(name);
      out.bulk(value);
    }
    return;
  }
  if (equals_ignore_case(sub, "set")) {
    if (args.size() < 4) return reply_arity_error(out, "config|set");
    return reply_error_text(out, "ERR Unknown option or number of arguments for CONFIG SET - '" +
                                     std::string(args[2]) + "'");
  }
  if (equals_ignore_case(sub, "resetstat")) {
    if (args.size() != 2) return reply_arity_error(out, "config|resetstat");
    return out.ok();
  }
  reply_unknown_subcommand(out, args[0], sub);
}

// CLIENT SETNAME name, CLIENT GETNAME, CLIENT ID.
void client_command(CommandRequest& request) {
  const auto& args = request.args;
  RespWriter& out = request.out;
  const std::string_view sub = args[1];
  if (equals_ignore_case(sub, "setname")) {
    if (args.size() != 3) return reply_arity_error(out, "client|setname");
    if (!valid_client_name(args[2])) return out.error(kBadClientName);
    request.session.set_name(std::string(args[2]));
    return out.ok();
  }
  if (equals_ignore_case(sub, "getname")) {
    if (args.size() != 2) return reply_arity_error(out, "client|getname");
    if (request.session.name().empty()) return out.null();
    return out.bulk(request.session.name());
  }
  if (equals_ignore_case(sub, "id")) {
    if (args.size() != 2) return reply_arity_error(out, "client|id");
    return out.integer(static_cast<long long>(request.session.id()));
  }
  reply_unknown_subcommand(out, args[0], sub);
}

void quit_command(CommandRequest& request) {
  request.out.ok();
  request.session.close_after_reply();
}

// HELLO [protover [AUTH username password] [SETNAME name]]. Only RESP2 is spoken: HELLO 3 gets
// NOPROTO, so clients fall back to RESP2.
void hello_command(CommandRequest& request) {
  const auto& args = request.args;
  RespWriter& out = request.out;
  std::size_t next = 1;
  if (args.size() >= 2) {
    long long version = 0;
    if (!parse_integer(args[next++], version)) {
      return out.error("ERR Protocol version is not an integer or out of range");
    }
    if (version != 2) return out.error(kv_error::kNoProto);
  }
  std::string_view name;
  bool set_name = false;
  for (std::size_t i = next; i < args.size(); ++i) {
    const std::size_t more = args.size() - 1 - i;
    if (equals_ignore_case(args[i], "auth") && more >= 2) {
      // No users or passwords here: like Redis's default user with nopass, any password works.
      if (args[i + 1] != "default") {
        return out.error("WRONGPASS invalid username-password pair or user is disabled.");
      }
      i += 2;
    } else if (equals_ignore_case(args[i], "setname") && more >= 1) {
      name = args[++i];
      set_name = true;
    } else {
      return reply_error_text(out, "ERR Syntax error in HELLO option '" + std::string(args[i]) + "'");
    }
  }
  if (set_name) {
    if (!valid_client_name(name)) return out.error(kBadClientName);
    request.session.set_name(std::string(name));
  }
  out.array(14);  // a RESP2 "map": key, value, ...
  out.bulk("server");
  out.bulk("redis");
  out.bulk("version");
  out.bulk(kKvServerVersion);
  out.bulk("proto");
  out.integer(2);
  out.bulk("id");
  out.integer(static_cast<long long>(request.session.id()));
  out.bulk("mode");
  out.bulk("standalone");
  out.bulk("role");
  out.bulk("master");
  out.bulk("modules");
  out.array(0);
}

// INFO [section...]: the Server, Clients and Keyspace sections.
void info_command(CommandRequest& request) {
  const auto wanted = [&request](std::string_view section) {
    if (request.args.size() == 1) return true;
    for (std::size_t i = 1; i < request.args.size(); ++i) {
      const std::string_view arg = request.args[i];
      if (equals_ignore_case(arg, section) || equals_ignore_case(arg, "all") ||
          equals_ignore_case(arg, "default") || equals_ignore_case(arg, "everything")) {
        return true;
      }
    }
    return false;
  };
  std::string text;
  if (wanted("server")) {
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now() - kStartTime)
                            .count();
    text += "# Server\r\nredis_version:" + std::string(kKvServerVersion) +
            "\r\nredis_mode:standalone\r\nos:Linux\r\narch_bits:64\r\nmultiplexing_api:epoll\r\n"
            "process_id:" + std::to_string(::getpid()) +
            "\r\nuptime_in_seconds:" + std::to_string(uptime) +
            "\r\nuptime_in_days:" + std::to_string(uptime / 86400) + "\r\n";
  }
  if (wanted("clients")) {
    if (!text.empty()) text += "\r\n";
    text += "# Clients\r\nconnected_clients:" + std::to_string(KvSession::connected()) + "\r\n";
  }
  if (wanted("keyspace")) {
    if (!text.empty()) text += "\r\n";
    text += "# Keyspace\r\n";
    const std::size_t keys = request.store.size();
    if (keys > 0) {
      text += "db0:keys=" + std::to_string(keys) +
              ",expires=" + std::to_string(request.store.volatile_size()) + ",avg_ttl=0\r\n";
    }
  }
  request.out.bulk(text);
}

}  // namespace lf
