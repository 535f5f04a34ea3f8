// The connection and the server: SELECT, COMMAND, CONFIG, QUIT, HELLO, TIME, enough for
// redis-cli, redis-benchmark and the usual client libraries (CLIENT: client_commands.cc, INFO:
// info_command.cc).
#include <algorithm>
#include <array>
#include <climits>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "kv/command_request.h"
#include "kv/glob_match.h"
#include "kv/integer_text.h"
#include "kv/kv_commands.h"

namespace lf {
namespace {

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

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]. There are no modules
// and no ACL categories here: those filters match nothing.
void command_list(CommandRequest& request) {
  const auto& args = request.args;
  enum class Filter { kNone, kModule, kAclCategory, kPattern } filter = Filter::kNone;
  std::string_view argument;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::size_t more = args.size() - 1 - i;
    if (!equals_ignore_case(args[i], "filterby") || more != 2) {
      return request.out.error(kv_error::kSyntax);
    }
    const std::string_view type = args[i + 1];
    if (equals_ignore_case(type, "module")) {
      filter = Filter::kModule;
    } else if (equals_ignore_case(type, "aclcat")) {
      filter = Filter::kAclCategory;
    } else if (equals_ignore_case(type, "pattern")) {
      filter = Filter::kPattern;
    } else {
      return request.out.error(kv_error::kSyntax);
    }
    argument = args[i + 2];
    i += 2;
  }
  std::vector<std::string_view> names;
  for (const CommandSpec& spec : command_table()) {
    if (filter == Filter::kNone ||
        (filter == Filter::kPattern && glob_match(argument, spec.name, /*ignore_case=*/true))) {
      names.push_back(spec.name);
    }
  }
  request.out.array(names.size());
  for (const std::string_view name : names) request.out.bulk(name);
}

// COMMAND GETKEYS command arg [arg...]: the key arguments, by the command's key positions.
void command_getkeys(CommandRequest& request) {
  const auto& args = request.args;
  RespWriter& out = request.out;
  if (args.size() < 4) return reply_arity_error(out, "command|getkeys");
  const auto call = args.subspan(2);
  const CommandSpec* spec = find_command(call[0]);
  if (spec == nullptr) return out.error("ERR Invalid command specified");
  if (spec->first_key == 0) return out.error("ERR The command has no key arguments");
  const auto argc = static_cast<int>(call.size());
  if ((spec->arity > 0 && spec->arity != argc) || argc < -spec->arity) {
    return out.error("ERR Invalid number of arguments specified for command");
  }
  const auto keys = command_keys(*spec, call);
  out.array(keys.size());
  for (const std::string_view key : keys) out.bulk(key);
}

}  // namespace

// SELECT index: only database 0 exists. The index is checked as Redis's getIntFromObjectOrReply.
void select_command(CommandRequest& request) {
  long long index = 0;
  if (!parse_integer_or_reply(request, request.args[1], index)) return;
  if (index < INT32_MIN || index > INT32_MAX) {
    return request.out.error(
        "ERR value is out of range, value must between -2147483648 and 2147483647");
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
  if (equals_ignore_case(sub, "list")) return command_list(request);
  if (equals_ignore_case(sub, "getkeys")) return command_getkeys(request);
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
    // A name without glob characters is echoed as given (CONFIG GET MAXMEMORY answers
    // "MAXMEMORY"); a pattern lists the parameters' own names. Each parameter once.
    std::vector<std::pair<std::string_view, std::string_view>> matches;
    std::vector<std::string_view> seen;
    for (std::size_t i = 2; i < args.size(); ++i) {
      const std::string_view arg = args[i];
      const bool pattern = arg.find_first_of("[*?") != std::string_view::npos;
      for (const auto& [name, value] : kConfig) {
        if (pattern ? !glob_match(arg, name, /*ignore_case=*/true) : !equals_ignore_case(arg, name)) {
          continue;
        }
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
        seen.push_back(name);
        matches.emplace_back(pattern ? name : arg, value);
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

// TIME: Unix seconds and microseconds, as two bulk strings.
void time_command(CommandRequest& request) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  request.out.array(2);
  request.out.bulk(std::to_string(micros / 1000000));
  request.out.bulk(std::to_string(micros % 1000000));
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
    if (!valid_client_name(name)) return out.error(kv_error::kBadClientName);
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


}  // namespace lf
