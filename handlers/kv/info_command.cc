// INFO [section...]: the Server, Clients, Memory, Stats, Commandstats and Keyspace sections, in
// Redis's format. Without arguments (or "default") all but Commandstats, as Redis does.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/kv_commands.h"

namespace lf {
namespace {

const auto kStartTime = std::chrono::steady_clock::now();

// Redis's bytesToHuman: "1.50M".
std::string human_bytes(unsigned long long bytes) {
  char text[32];
  const auto value = static_cast<double>(bytes);
  if (bytes < 1024) {
    std::snprintf(text, sizeof text, "%lluB", bytes);
  } else if (bytes < 1024ULL * 1024) {
    std::snprintf(text, sizeof text, "%.2fK", value / 1024);
  } else if (bytes < 1024ULL * 1024 * 1024) {
    std::snprintf(text, sizeof text, "%.2fM", value / (1024 * 1024));
  } else {
    std::snprintf(text, sizeof text, "%.2fG", value / (1024 * 1024 * 1024));
  }
  return text;
}

unsigned long long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  unsigned long long pages = 0;
  unsigned long long resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<unsigned long long>(::sysconf(_SC_PAGESIZE));
}

std::string field(std::string_view name, const std::string& value) {
  return std::string(name) + ":" + value + "\r\n";
}

std::string server_section() {
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - kStartTime)
                          .count();
  return "# Server\r\n" + field("redis_version", std::string(kKvServerVersion)) +
         field("redis_mode", "standalone") + field("os", "Linux") + field("arch_bits", "64") +
         field("multiplexing_api", "epoll") + field("process_id", std::to_string(::getpid())) +
         field("uptime_in_seconds", std::to_string(uptime)) +
         field("uptime_in_days", std::to_string(uptime / 86400));
}

std::string clients_section() {
  return "# Clients\r\n" + field("connected_clients", std::to_string(KvSession::connected())) +
         field("blocked_clients", "0");
}

std::string memory_section() {
  const struct mallinfo2 heap = ::mallinfo2();
  const unsigned long long used = heap.uordblks + heap.hblkhd;  // allocated, incl. mmapped
  const unsigned long long rss = resident_bytes();
  return "# Memory\r\n" + field("used_memory", std::to_string(used)) +
         field("used_memory_human", human_bytes(used)) +
         field("used_memory_rss", std::to_string(rss)) +
         field("used_memory_rss_human", human_bytes(rss)) + field("maxmemory", "0") +
         field("maxmemory_human", "0B") + field("maxmemory_policy", "noeviction");
}

std::string stats_section() {
  std::uint64_t commands = 0;
  std::uint64_t errors = 0;
  for_each_command_stats([&](const CommandSpec&, const CommandStats& stats) {
    commands += stats.calls;
    errors += stats.failed + stats.rejected;
  });
  return "# Stats\r\n" + field("total_connections_received", std::to_string(KvSession::created())) +
         field("total_commands_processed", std::to_string(commands)) +
         field("total_error_replies", std::to_string(errors));
}

std::string commandstats_section() {
  std::string text = "# Commandstats\r\n";
  for_each_command_stats([&](const CommandSpec& spec, const CommandStats& stats) {
    char per_call[32];
    std::snprintf(per_call, sizeof per_call, "%.2f",
                  stats.calls == 0 ? 0.0
                                   : static_cast<double>(stats.usec) /
                                         static_cast<double>(stats.calls));
    text += "cmdstat_" + std::string(spec.name) + ":calls=" + std::to_string(stats.calls) +
            ",usec=" + std::to_string(stats.usec) + ",usec_per_call=" + per_call +
            ",rejected_calls=" + std::to_string(stats.rejected) +
            ",failed_calls=" + std::to_string(stats.failed) + "\r\n";
  });
  return text;
}

std::string keyspace_section(KvStore::Access& db) {
  std::string text = "# Keyspace\r\n";
  const std::size_t keys = db.size();
  if (keys > 0) {
    text += "db0:keys=" + std::to_string(keys) + ",expires=" + std::to_string(db.volatile_size()) +
            ",avg_ttl=0\r\n";
  }
  return text;
}

}  // namespace

void info_command(CommandRequest& request) {
  const auto& args = request.args;
  const auto wanted = [&](std::string_view section, bool in_default) {
    if (args.size() == 1) return in_default;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (equals_ignore_case(args[i], section) || equals_ignore_case(args[i], "all") ||
          equals_ignore_case(args[i], "everything") ||
          (in_default && equals_ignore_case(args[i], "default"))) {
        return true;
      }
    }
    return false;
  };
  std::string text;
  const auto add = [&text](const std::string& section) {
    if (!text.empty()) text += "\r\n";
    text += section;
  };
  if (wanted("server", true)) add(server_section());
  if (wanted("clients", true)) add(clients_section());
  if (wanted("memory", true)) add(memory_section());
  if (wanted("stats", true)) add(stats_section());
  if (wanted("commandstats", false)) add(commandstats_section());
  if (wanted("keyspace", true)) add(keyspace_section(request.db));
  request.out.bulk(text);
}

}  // namespace lf
