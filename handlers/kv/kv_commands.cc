#include "kv/kv_commands.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <unordered_map>

#include "kv/command_request.h"

namespace lf {
namespace {

// Arities and key positions as Redis 7.0's COMMAND reports them.
constexpr std::array kCommands = {
    CommandSpec{"ping", -1, ping_command},
    CommandSpec{"echo", 2, echo_command},
    CommandSpec{"get", 2, get_command, 1, 1, 1},
    CommandSpec{"set", -3, set_command, 1, 1, 1},
    CommandSpec{"del", -2, del_command, 1, -1, 1},
    CommandSpec{"exists", -2, exists_command, 1, -1, 1},
    CommandSpec{"incr", 2, incr_command, 1, 1, 1},
    CommandSpec{"decr", 2, decr_command, 1, 1, 1},
    CommandSpec{"incrby", 3, incrby_command, 1, 1, 1},
    CommandSpec{"decrby", 3, decrby_command, 1, 1, 1},
    CommandSpec{"mget", -2, mget_command, 1, -1, 1},
    CommandSpec{"mset", -3, mset_command, 1, -1, 2},
    CommandSpec{"expire", -3, expire_command, 1, 1, 1},
    CommandSpec{"pexpire", -3, pexpire_command, 1, 1, 1},
    CommandSpec{"ttl", 2, ttl_command, 1, 1, 1},
    CommandSpec{"pttl", 2, pttl_command, 1, 1, 1},
    CommandSpec{"persist", 2, persist_command, 1, 1, 1},
    CommandSpec{"dbsize", 1, dbsize_command},
    CommandSpec{"flushall", -1, flushall_command},
    CommandSpec{"flushdb", -1, flushall_command},  // one database: the same thing
    CommandSpec{"select", 2, select_command},
    CommandSpec{"command", -1, command_command},
    CommandSpec{"config", -2, config_command},
    CommandSpec{"client", -2, client_command},
    CommandSpec{"quit", -1, quit_command},
    CommandSpec{"hello", -1, hello_command},
    CommandSpec{"info", -1, info_command},
};

const CommandSpec* find_command(std::string_view name) {
  static const std::unordered_map<std::string_view, const CommandSpec*> kByName = [] {
    std::unordered_map<std::string_view, const CommandSpec*> map;
    for (const CommandSpec& spec : kCommands) map.emplace(spec.name, &spec);
    return map;
  }();
  char lower[16];
  if (name.size() > sizeof lower) return nullptr;
  std::transform(name.begin(), name.end(), lower,
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  const auto it = kByName.find(std::string_view(lower, name.size()));
  return it == kByName.end() ? nullptr : it->second;
}

// A C string as printf's %.*s shows it: up to the first NUL, at most `limit` bytes.
std::string_view printable(std::string_view text, std::size_t limit) {
  text = text.substr(0, std::min(text.find('\0'), limit));
  return text;
}

void reply_unknown_command(RespWriter& out, std::span<const std::string_view> args) {
  std::string listed;
  for (std::size_t i = 1; i < args.size() && listed.size() < 128; ++i) {
    listed += '\'';
    listed += printable(args[i], 128 - listed.size());
    listed += "' ";
  }
  reply_error_text(out, "ERR unknown command '" + std::string(printable(args[0], 128)) +
                            "', with args beginning with: " + listed);
}

}  // namespace

std::span<const CommandSpec> command_table() noexcept { return kCommands; }

std::size_t command_count() noexcept { return kCommands.size(); }

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void reply_error_text(RespWriter& out, std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  out.error(text);
}

void reply_arity_error(RespWriter& out, std::string_view name) {
  reply_error_text(out, "ERR wrong number of arguments for '" + std::string(name) + "' command");
}

void reply_unknown_subcommand(RespWriter& out, std::string_view command, std::string_view sub) {
  std::string upper(command);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
  reply_error_text(out, "ERR unknown subcommand '" + std::string(printable(sub, 128)) + "'. Try " +
                            upper + " HELP.");
}

void execute_command(std::span<const std::string_view> args, KvStore& store, KvSession& session,
                     RespWriter& out) {
  if (args.empty()) return;
  const CommandSpec* spec = find_command(args[0]);
  if (spec == nullptr) return reply_unknown_command(out, args);
  const auto argc = static_cast<int>(args.size());
  if ((spec->arity > 0 && argc != spec->arity) || argc < -spec->arity) {
    return reply_arity_error(out, spec->name);
  }
  CommandRequest request{args, store, session, out, spec->name};
  spec->run(request);
}

}  // namespace lf
