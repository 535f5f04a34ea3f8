// The connection and the server: SELECT, CONFIG, QUIT, HELLO, TIME, enough for redis-cli,
// redis-benchmark and the usual client libraries (CLIENT: client_commands.cc, COMMAND:
// command_command.cc, INFO: info_command.cc).
#include <algorithm>
#include <array>
#include <climits>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/glob_match.h"
#include "lf/handlers/kv/integer_text.h"
#include "lf/handlers/kv/kv_commands.h"

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
