// CLIENT ID, SETNAME, GETNAME, LIST, INFO, KILL, REPLY, as Redis 7.0 answers them. CLIENT LIST
// has Redis's fields; multi-mem, rbs and rbp, which lf does not track, are 0.
#include <algorithm>
#include <chrono>
#include <climits>
#include <memory>
#include <string>
#include <vector>

#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/integer_text.h"
#include "lf/handlers/kv/kv_clients.h"

namespace lf {
namespace {

// One line of CLIENT LIST / CLIENT INFO, with its newline. `request` is the CLIENT command
// running: its own client's argv-mem is the size of its arguments (Redis frees a command's
// arguments once it has run, so other clients show 0).
std::string client_line(const kv_clients::Client& client, const CommandRequest& request) {
  const KvSession::Info info = client.session->info();
  const KvSession::Memory memory = client.session->memory();
  const std::size_t output = client.stream->output_bytes();
  std::size_t argv_bytes = 0;
  if (client.session == &request.session) {
    for (const std::string_view arg : request.args) argv_bytes += arg.size();
  }
  const auto now = std::chrono::steady_clock::now();
  const auto seconds = [&](std::chrono::steady_clock::time_point since) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - since).count());
  };
  // lf keeps pending output in one buffer (no fixed reply buffer beside a list, as Redis has):
  // obl is 0, oll counts that buffer while it holds something, omem is what it holds.
  return "id=" + std::to_string(client.session->id()) + " addr=" + client.peer +
         " laddr=" + client.local + " fd=" + std::to_string(client.fd) + " name=" + info.name +
         " age=" + seconds(info.created) + " idle=" + seconds(info.last_active) +
         " flags=" + (info.queued >= 0 ? "x" : "N") +
         " db=0 sub=0 psub=0 ssub=0 multi=" + std::to_string(info.queued) +
         " qbuf=" + std::to_string(memory.unprocessed_input) +
         " qbuf-free=" + std::to_string(memory.input_free) +
         " argv-mem=" + std::to_string(argv_bytes) +
         " multi-mem=0 rbs=0 rbp=0 obl=0 oll=" + (output > 0 ? "1" : "0") +
         " omem=" + std::to_string(output) +
         " tot-mem=" + std::to_string(memory.held + argv_bytes + output) +
         " events=r cmd=" + info.last_command + " user=default redir=-1 resp=2\n";
}

// Redis's getClientTypeByName; only normal clients exist here.
enum class ClientType { kNormal, kOther, kUnknown };
ClientType client_type(std::string_view name) {
  if (equals_ignore_case(name, "normal")) return ClientType::kNormal;
  for (const char* other : {"slave", "replica", "master", "pubsub"}) {
    if (equals_ignore_case(name, other)) return ClientType::kOther;
  }
  return ClientType::kUnknown;
}

void reply_unknown_type(RespWriter& out, std::string_view name) {
  reply_error_text(out, "ERR Unknown client type '" + std::string(name) + "'");
}

// CLIENT LIST [TYPE type | ID id [id...]]
void client_list(CommandRequest& request) {
  const auto& args = request.args;
  std::vector<long long> ids;
  bool none = false;
  if (args.size() == 4 && equals_ignore_case(args[2], "type")) {
    const ClientType type = client_type(args[3]);
    if (type == ClientType::kUnknown) return reply_unknown_type(request.out, args[3]);
    none = type != ClientType::kNormal;
  } else if (args.size() > 3 && equals_ignore_case(args[2], "id")) {
    for (std::size_t i = 3; i < args.size(); ++i) {
      long long id = 0;
      if (!parse_integer(args[i], id)) return request.out.error("ERR Invalid client ID");
      ids.push_back(id);
    }
  } else if (args.size() != 2) {
    return request.out.error(kv_error::kSyntax);
  }
  std::string text;
  kv_clients::for_each([&](const kv_clients::Client& client) {
    if (none || client.session->killed()) return;
    const auto id = static_cast<long long>(client.session->id());
    if (!ids.empty() && std::find(ids.begin(), ids.end(), id) == ids.end()) return;
    text += client_line(client, request);
  });
  request.out.bulk(text);
}

void client_info(CommandRequest& request) {
  std::string text;
  kv_clients::for_each([&](const kv_clients::Client& client) {
    if (client.session == &request.session) text = client_line(client, request);
  });
  request.out.bulk(text);
}

// CLIENT KILL addr:port (old form: OK or an error), or CLIENT KILL [ID id] [ADDR addr]
// [LADDR addr] [TYPE type] [USER name] [SKIPME yes|no] (the number killed). Killing itself, a
// client gets its reply first.
void client_kill(CommandRequest& request) {
  const auto& args = request.args;
  long long id = 0;
  std::string_view addr;
  std::string_view laddr;
  bool skip_me = true;
  bool none = false;  // a type no client here has
  if (args.size() == 3) {
    addr = args[2];
    skip_me = false;
  } else {
    for (std::size_t i = 2; i < args.size(); i += 2) {
      const bool has_value = i + 1 < args.size();
      const std::string_view option = args[i];
      const std::string_view value = has_value ? args[i + 1] : std::string_view();
      if (equals_ignore_case(option, "id") && has_value) {
        if (!parse_integer(value, id) || id < 1) {
          return request.out.error("ERR client-id should be greater than 0");
        }
      } else if (equals_ignore_case(option, "type") && has_value) {
        const ClientType type = client_type(value);
        if (type == ClientType::kUnknown) return reply_unknown_type(request.out, value);
        none = none || type != ClientType::kNormal;
      } else if (equals_ignore_case(option, "addr") && has_value) {
        addr = value;
      } else if (equals_ignore_case(option, "laddr") && has_value) {
        laddr = value;
      } else if (equals_ignore_case(option, "user") && has_value) {
        if (value != "default") {
          return reply_error_text(request.out, "ERR No such user '" + std::string(value) + "'");
        }
      } else if (equals_ignore_case(option, "skipme") && has_value) {
        if (equals_ignore_case(value, "yes")) {
          skip_me = true;
        } else if (equals_ignore_case(value, "no")) {
          skip_me = false;
        } else {
          return request.out.error(kv_error::kSyntax);
        }
      } else {
        return request.out.error(kv_error::kSyntax);
      }
    }
  }
  // Closed outside the registry's lock: a closing connection leaves the registry.
  std::vector<std::weak_ptr<StreamConnection>> victims;
  bool me = false;
  kv_clients::for_each([&](const kv_clients::Client& client) {
    if (none || client.session->killed()) return;
    if (id != 0 && static_cast<long long>(client.session->id()) != id) return;
    if (!addr.empty() && client.peer != addr) return;
    if (!laddr.empty() && client.local != laddr) return;
    if (client.session == &request.session) {
      me = !skip_me;
      return;
    }
    client.session->mark_killed();
    victims.push_back(client.connection);
  });
  const auto killed = static_cast<long long>(victims.size()) + (me ? 1 : 0);
  // Closed after this command (or its whole transaction) released the shards.
  request.session.defer([victims = std::move(victims)] {
    for (const auto& victim : victims) {
      if (const auto connection = victim.lock()) connection->force_close();
    }
  });
  if (me) request.session.close_after_reply();
  if (args.size() == 3) {
    if (killed == 0) return request.out.error("ERR No such client");
    return request.out.ok();
  }
  request.out.integer(killed);
}

// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP reply nothing (run_command drops the replies).
void client_reply(CommandRequest& request) {
  using Mode = KvSession::ReplyMode;
  const std::string_view mode = request.args[2];
  if (equals_ignore_case(mode, "on")) {
    request.session.set_reply_mode(Mode::kOn);
    return request.out.ok();
  }
  if (equals_ignore_case(mode, "off")) return request.session.set_reply_mode(Mode::kOff);
  if (equals_ignore_case(mode, "skip")) {
    if (request.session.reply_mode() != Mode::kOff) request.session.set_reply_mode(Mode::kSkipNext);
    return;
  }
  request.out.error(kv_error::kSyntax);
}

// Subcommand arities as Redis 7.0's table has them.
struct Subcommand {
  std::string_view name;
  int arity;
  void (*run)(CommandRequest&);
};

void client_id(CommandRequest& request) {
  request.out.integer(static_cast<long long>(request.session.id()));
}

void client_getname(CommandRequest& request) {
  if (request.session.name().empty()) return request.out.null();
  request.out.bulk(request.session.name());
}

void client_setname(CommandRequest& request) {
  if (!valid_client_name(request.args[2])) return request.out.error(kv_error::kBadClientName);
  request.session.set_name(std::string(request.args[2]));
  request.out.ok();
}

constexpr Subcommand kSubcommands[] = {
    {"id", 2, client_id},         {"getname", 2, client_getname}, {"setname", 3, client_setname},
    {"list", -2, client_list},    {"info", 2, client_info},       {"kill", -3, client_kill},
    {"reply", 3, client_reply},
};

}  // namespace

void client_command(CommandRequest& request) {
  const std::string_view sub = request.args[1];
  for (const Subcommand& subcommand : kSubcommands) {
    if (!equals_ignore_case(sub, subcommand.name)) continue;
    const auto argc = static_cast<int>(request.args.size());
    if ((subcommand.arity > 0 && argc != subcommand.arity) || argc < -subcommand.arity) {
      return reply_arity_error(request.out, "client|" + std::string(subcommand.name));
    }
    return subcommand.run(request);
  }
  reply_unknown_subcommand(request.out, request.args[0], sub);
}

}  // namespace lf
