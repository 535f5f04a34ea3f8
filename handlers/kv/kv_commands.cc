#include "lf/handlers/kv/kv_commands.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <cctype>
#include <string>
#include <unordered_map>
#include <vector>

#include "lf/handlers/kv/command_request.h"
#include "lf/metrics/metric_registry.h"

namespace lf {
namespace {

// Arities and key positions as Redis 7.0's COMMAND reports them (its flags, categories, key
// specifications and docs: command_meta.cc, generated for the names listed here).
constexpr std::array kCommands = {
    // Strings.
    CommandSpec{"ping", -1, ping_command},
    CommandSpec{"echo", 2, echo_command},
    CommandSpec{"get", 2, get_command, 1, 1, 1},
    CommandSpec{"set", -3, set_command, 1, 1, 1},
    CommandSpec{"setnx", 3, setnx_command, 1, 1, 1},
    CommandSpec{"setex", 4, setex_command, 1, 1, 1},
    CommandSpec{"psetex", 4, psetex_command, 1, 1, 1},
    CommandSpec{"getset", 3, getset_command, 1, 1, 1},
    CommandSpec{"getdel", 2, getdel_command, 1, 1, 1},
    CommandSpec{"getex", -2, getex_command, 1, 1, 1},
    CommandSpec{"incr", 2, incr_command, 1, 1, 1},
    CommandSpec{"decr", 2, decr_command, 1, 1, 1},
    CommandSpec{"incrby", 3, incrby_command, 1, 1, 1},
    CommandSpec{"decrby", 3, decrby_command, 1, 1, 1},
    CommandSpec{"incrbyfloat", 3, incrbyfloat_command, 1, 1, 1},
    CommandSpec{"mget", -2, mget_command, 1, -1, 1},
    CommandSpec{"mset", -3, mset_command, 1, -1, 2},
    CommandSpec{"msetnx", -3, msetnx_command, 1, -1, 2},
    CommandSpec{"append", 3, append_command, 1, 1, 1},
    CommandSpec{"strlen", 2, strlen_command, 1, 1, 1},
    CommandSpec{"getrange", 4, getrange_command, 1, 1, 1},
    CommandSpec{"substr", 4, getrange_command, 1, 1, 1},
    CommandSpec{"setrange", 4, setrange_command, 1, 1, 1},
    // The keyspace.
    CommandSpec{"del", -2, del_command, 1, -1, 1},
    CommandSpec{"unlink", -2, del_command, 1, -1, 1},  // no lazy freeing here: DEL
    CommandSpec{"exists", -2, exists_command, 1, -1, 1},
    CommandSpec{"touch", -2, touch_command, 1, -1, 1},
    CommandSpec{"type", 2, type_command, 1, 1, 1},
    CommandSpec{"expire", -3, expire_command, 1, 1, 1},
    CommandSpec{"pexpire", -3, pexpire_command, 1, 1, 1},
    CommandSpec{"expireat", -3, expireat_command, 1, 1, 1},
    CommandSpec{"pexpireat", -3, pexpireat_command, 1, 1, 1},
    CommandSpec{"expiretime", 2, expiretime_command, 1, 1, 1},
    CommandSpec{"pexpiretime", 2, pexpiretime_command, 1, 1, 1},
    CommandSpec{"ttl", 2, ttl_command, 1, 1, 1},
    CommandSpec{"pttl", 2, pttl_command, 1, 1, 1},
    CommandSpec{"persist", 2, persist_command, 1, 1, 1},
    CommandSpec{"keys", 2, keys_command, 0, 0, 0, kWholeKeyspace},
    CommandSpec{"scan", -2, scan_command, 0, 0, 0, kWholeKeyspace},
    CommandSpec{"randomkey", 1, randomkey_command, 0, 0, 0, kWholeKeyspace},
    CommandSpec{"rename", 3, rename_command, 1, 2, 1},
    CommandSpec{"renamenx", 3, renamenx_command, 1, 2, 1},
    CommandSpec{"copy", -3, copy_command, 1, 2, 1},
    CommandSpec{"dbsize", 1, dbsize_command, 0, 0, 0, kWholeKeyspace},
    CommandSpec{"flushall", -1, flushall_command, 0, 0, 0, kWholeKeyspace},
    // One database: the same thing.
    CommandSpec{"flushdb", -1, flushall_command, 0, 0, 0, kWholeKeyspace},
    // Hashes.
    CommandSpec{"hset", -4, hset_command, 1, 1, 1},
    CommandSpec{"hmset", -4, hmset_command, 1, 1, 1},
    CommandSpec{"hsetnx", 4, hsetnx_command, 1, 1, 1},
    CommandSpec{"hget", 3, hget_command, 1, 1, 1},
    CommandSpec{"hmget", -3, hmget_command, 1, 1, 1},
    CommandSpec{"hdel", -3, hdel_command, 1, 1, 1},
    CommandSpec{"hgetall", 2, hgetall_command, 1, 1, 1},
    CommandSpec{"hkeys", 2, hkeys_command, 1, 1, 1},
    CommandSpec{"hvals", 2, hvals_command, 1, 1, 1},
    CommandSpec{"hlen", 2, hlen_command, 1, 1, 1},
    CommandSpec{"hexists", 3, hexists_command, 1, 1, 1},
    CommandSpec{"hstrlen", 3, hstrlen_command, 1, 1, 1},
    CommandSpec{"hincrby", 4, hincrby_command, 1, 1, 1},
    CommandSpec{"hincrbyfloat", 4, hincrbyfloat_command, 1, 1, 1},
    CommandSpec{"hscan", -3, hscan_command, 1, 1, 1},
    // Transactions.
    CommandSpec{"multi", 1, multi_command},
    CommandSpec{"exec", 1, exec_command, 0, 0, 0, kLocksItself},
    CommandSpec{"discard", 1, discard_command},
    CommandSpec{"watch", -2, watch_command, 1, -1, 1, kLocksItself},
    CommandSpec{"unwatch", 1, unwatch_command},
    // The connection and the server.
    CommandSpec{"select", 2, select_command},
    CommandSpec{"command", -1, command_command},
    CommandSpec{"config", -2, config_command},
    CommandSpec{"client", -2, client_command},
    CommandSpec{"quit", -1, quit_command},
    CommandSpec{"hello", -1, hello_command},
    CommandSpec{"info", -1, info_command, 0, 0, 0, kWholeKeyspace},
    CommandSpec{"time", 1, time_command},
};

// Per command, for INFO commandstats.
struct Counters {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> usec{0};
  std::atomic<std::uint64_t> rejected{0};  // refused before running (arity)
  std::atomic<std::uint64_t> failed{0};    // ran and replied with an error
  // lf_kv_command_duration_seconds{command}: this thread's handle, registered on its first call
  // of the command, so /metrics lists the commands in use (as INFO commandstats does).
  metrics::HistogramHandle duration;
};
// One set per thread, so that threads running the same command do not contend for a cache
// line; INFO sums them. Kept after their thread ends (the counts must not go backwards).
using CounterSet = std::array<Counters, kCommands.size()>;
std::mutex g_counter_sets_mutex;
std::vector<std::unique_ptr<CounterSet>> g_counter_sets;

Counters& counters_of(const CommandSpec& spec) {
  thread_local CounterSet* const mine = [] {
    std::lock_guard lock(g_counter_sets_mutex);
    return g_counter_sets.emplace_back(std::make_unique<CounterSet>()).get();
  }();
  return (*mine)[static_cast<std::size_t>(&spec - kCommands.data())];
}

// The name CLIENT LIST shows as the last command: "get", or "client|list" for a container.
std::string command_display_name(const CommandSpec& spec, std::span<const std::string_view> args) {
  std::string name(spec.name);
  if ((name == "client" || name == "config" || name == "command") && args.size() >= 2) {
    name += '|';
    for (const char c : args[1].substr(0, 32)) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return name;
}

// Runs a command under the locks it needs, counts it, and applies CLIENT REPLY OFF/SKIP by
// taking its reply back out of the output.
void run_command(const CommandSpec& spec, std::span<const std::string_view> args, KvStore& store,
                 KvSession& session, RespWriter& out) {
  using Mode = KvSession::ReplyMode;
  session.note_command(command_display_name(spec, args));
  const Mode before = session.reply_mode();
  Buffer& buffer = out.buffer();
  const std::size_t mark = buffer.readable_bytes();
  const auto started = std::chrono::steady_clock::now();
  {
    std::vector<std::size_t> shards;
    KvStore::Access db = add_command_shards(spec, args, store, shards)
                             ? store.access(std::move(shards))
                             : store.access_all();
    CommandRequest request{args, store, db, session, out, spec.name};
    spec.run(request);
  }
  session.run_deferred();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  Counters& counters = counters_of(spec);
  counters.calls.fetch_add(1, std::memory_order_relaxed);
  counters.usec.fetch_add(
      static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()),
      std::memory_order_relaxed);
  if (!counters.duration.valid()) {
    counters.duration = metrics::register_histogram(
        "lf_kv_command_duration_seconds", "Time to run a key-value command, its locks included",
        {{"command", std::string(spec.name)}});
  }
  counters.duration.observe(elapsed);
  if (buffer.readable_bytes() > mark && buffer.view()[mark] == '-') {
    counters.failed.fetch_add(1, std::memory_order_relaxed);
  }
  const Mode after = session.reply_mode();
  if ((before == Mode::kOff || before == Mode::kSkipThis) && after != Mode::kOn) {
    buffer.unwrite(buffer.readable_bytes() - mark);
  }
  if (after == Mode::kSkipThis) session.set_reply_mode(Mode::kOn);
  if (after == Mode::kSkipNext) session.set_reply_mode(Mode::kSkipThis);
}

// Commands that run at once inside MULTI instead of being queued (as Redis's processCommand).
bool runs_in_transaction(std::string_view name) {
  return name == "exec" || name == "discard" || name == "multi" || name == "watch" ||
         name == "quit";
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

const CommandSpec* find_command(std::string_view name) {
  static const std::unordered_map<std::string_view, const CommandSpec*> kByName = [] {
    std::unordered_map<std::string_view, const CommandSpec*> map;
    for (const CommandSpec& spec : kCommands) map.emplace(spec.name, &spec);
    return map;
  }();
  char lower[16];  // longer than any command name
  if (name.size() > sizeof lower) return nullptr;
  std::transform(name.begin(), name.end(), lower,
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  const auto it = kByName.find(std::string_view(lower, name.size()));
  return it == kByName.end() ? nullptr : it->second;
}

std::vector<std::string_view> command_keys(const CommandSpec& spec,
                                           std::span<const std::string_view> args) {
  std::vector<std::string_view> keys;
  if (spec.first_key <= 0) return keys;
  const auto argc = static_cast<int>(args.size());
  const int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < argc; i += spec.key_step) {
    keys.push_back(args[static_cast<std::size_t>(i)]);
  }
  return keys;
}

bool add_command_shards(const CommandSpec& spec, std::span<const std::string_view> args,
                        const KvStore& store, std::vector<std::size_t>& shards) {
  if ((spec.flags & kWholeKeyspace) != 0) return false;
  if ((spec.flags & kLocksItself) != 0) return true;
  if (spec.first_key <= 0) return true;
  // As command_keys(), without building the list: this runs for every command.
  const auto argc = static_cast<int>(args.size());
  const int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < argc; i += spec.key_step) {
    shards.push_back(store.shard_index(args[static_cast<std::size_t>(i)]));
  }
  return true;
}

std::size_t command_count() noexcept { return kCommands.size(); }

void for_each_command_stats(const std::function<void(const CommandSpec&, const CommandStats&)>& fn) {
  std::vector<CommandStats> totals(kCommands.size(), CommandStats{0, 0, 0, 0});
  {
    std::lock_guard lock(g_counter_sets_mutex);
    for (const auto& set : g_counter_sets) {
      for (std::size_t i = 0; i < kCommands.size(); ++i) {
        const Counters& counters = (*set)[i];
        totals[i].calls += counters.calls.load(std::memory_order_relaxed);
        totals[i].usec += counters.usec.load(std::memory_order_relaxed);
        totals[i].rejected += counters.rejected.load(std::memory_order_relaxed);
        totals[i].failed += counters.failed.load(std::memory_order_relaxed);
      }
    }
  }
  for (std::size_t i = 0; i < kCommands.size(); ++i) {
    if (totals[i].calls + totals[i].rejected > 0) fn(kCommands[i], totals[i]);
  }
}

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
  const auto argc = static_cast<int>(args.size());
  const bool refused =
      spec == nullptr || (spec->arity > 0 && argc != spec->arity) || argc < -spec->arity;
  if (refused) {
    // Redis fails a transaction whose commands are refused while queueing.
    if (session.in_transaction()) session.fail_transaction();
    if (spec == nullptr) return reply_unknown_command(out, args);
    counters_of(*spec).rejected.fetch_add(1, std::memory_order_relaxed);
    if (spec->name == "exec") {
      // Redis's rejectCommand: a refused EXEC discards the transaction (if any) and says so.
      session.end_transaction();
      session.unwatch_all();
      return out.error("EXECABORT Transaction discarded because of: wrong number of arguments "
                       "for 'exec' command");
    }
    return reply_arity_error(out, spec->name);
  }
  if (session.in_transaction() && !runs_in_transaction(spec->name)) {
    session.queue(args);
    return out.simple("QUEUED");
  }
  run_command(*spec, args, store, session, out);
}

}  // namespace lf
