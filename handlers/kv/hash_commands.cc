// Hashes: HSET, HGET, HDEL, HGETALL, HINCRBY, HSCAN and friends, as Redis 7.0 does them. A hash
// left without fields is deleted, as in Redis.
#include <climits>
#include <cmath>
#include <string>

#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/float_text.h"
#include "lf/handlers/kv/glob_match.h"
#include "lf/handlers/kv/integer_text.h"

namespace lf {
namespace {

// The key's hash, or nullptr if it is missing; another type gets the WRONGTYPE reply and sets
// `wrong_type`.
const KvHash* find_hash(CommandRequest& request, bool& wrong_type) {
  wrong_type = false;
  KvStore::Entry* entry = request.db.find(request.args[1]);
  if (entry == nullptr) return nullptr;
  const KvHash* hash = entry->hash();
  if (hash == nullptr) {
    wrong_type = true;
    request.out.error(kv_error::kWrongType);
  }
  return hash;
}

// The key's hash for changing, created if missing; nullptr (WRONGTYPE replied) for another type.
KvHash* write_hash(CommandRequest& request) {
  const std::string_view key = request.args[1];
  KvStore::Entry* entry = request.db.find(key);
  if (entry != nullptr && entry->hash() == nullptr) {
    request.out.error(kv_error::kWrongType);
    return nullptr;
  }
  KvStore::Entry& written = request.db.write(key);
  if (entry == nullptr) written.value = KvHash{};
  return written.hash();
}

// HSET and HMSET: field value pairs; the number of new fields.
bool set_fields(CommandRequest& request, long long& added) {
  if (request.args.size() % 2 == 1) {
    reply_arity_error(request.out, request.name);
    return false;
  }
  KvHash* hash = write_hash(request);
  if (hash == nullptr) return false;
  added = 0;
  for (std::size_t i = 2; i + 1 < request.args.size(); i += 2) {
    if (hash->set(request.args[i], request.args[i + 1])) ++added;
  }
  return true;
}

enum class Part { kFields, kValues, kBoth };

void reply_hash(CommandRequest& request, Part part) {
  bool wrong_type = false;
  const KvHash* hash = find_hash(request, wrong_type);
  if (wrong_type) return;
  if (hash == nullptr) return request.out.array(0);
  request.out.array(hash->size() * (part == Part::kBoth ? 2 : 1));
  for (const auto& [field, value] : hash->fields()) {
    if (part != Part::kValues) request.out.bulk(field);
    if (part != Part::kFields) request.out.bulk(value);
  }
}

}  // namespace

void hset_command(CommandRequest& request) {
  long long added = 0;
  if (set_fields(request, added)) request.out.integer(added);
}

void hmset_command(CommandRequest& request) {
  long long added = 0;
  if (set_fields(request, added)) request.out.ok();
}

void hsetnx_command(CommandRequest& request) {
  bool wrong_type = false;
  const KvHash* existing = find_hash(request, wrong_type);
  if (wrong_type) return;
  if (existing != nullptr && existing->find(request.args[2]) != nullptr) {
    return request.out.integer(0);
  }
  write_hash(request)->set(request.args[2], request.args[3]);
  request.out.integer(1);
}

void hget_command(CommandRequest& request) {
  bool wrong_type = false;
  const KvHash* hash = find_hash(request, wrong_type);
  if (wrong_type) return;
  reply_bulk_or_null(request.out, hash != nullptr ? hash->find(request.args[2]) : nullptr);
}

void hmget_command(CommandRequest& request) {
  bool wrong_type = false;
  const KvHash* hash = find_hash(request, wrong_type);
  if (wrong_type) return;
  request.out.array(request.args.size() - 2);
  for (std::size_t i = 2; i < request.args.size(); ++i) {
    reply_bulk_or_null(request.out, hash != nullptr ? hash->find(request.args[i]) : nullptr);
  }
}

void hdel_command(CommandRequest& request) {
  bool wrong_type = false;
  const KvHash* existing = find_hash(request, wrong_type);
  if (wrong_type) return;
  if (existing == nullptr) return request.out.integer(0);
  KvHash* hash = request.db.write(request.args[1]).hash();
  long long removed = 0;
  for (std::size_t i = 2; i < request.args.size(); ++i) {
    if (hash->erase(request.args[i])) ++removed;
  }
  if (hash->empty()) request.db.erase(request.args[1]);
  request.out.integer(removed);
}

void hgetall_command(CommandRequest& request) { reply_hash(request, Part::kBoth); }
void hkeys_command(CommandRequest& request) { reply_hash(request, Part::kFields); }
void hvals_command(CommandRequest& request) { reply_hash(request, Part::kValues); }

void hlen_command(CommandRequest& request) {
  bool wrong_type = false;
  const KvHash* hash = find_hash(request, wrong_type);
  if (!wrong_type) request.out.integer(hash != nullptr ? static_cast<long long>(hash->size()) : 0);
}

void hexists_command(CommandRequest& request) {
  bool wrong_type = false;
  const KvHash* hash = find_hash(request, wrong_type);
  if (wrong_type) return;
  request.out.integer(hash != nullptr && hash->find(request.args[2]) != nullptr ? 1 : 0);
}

void hstrlen_command(CommandRequest& request) {
  bool wrong_type = false;
  const KvHash* hash = find_hash(request, wrong_type);
  if (wrong_type) return;
  const std::string* value = hash != nullptr ? hash->find(request.args[2]) : nullptr;
  request.out.integer(value != nullptr ? static_cast<long long>(value->size()) : 0);
}

void hincrby_command(CommandRequest& request) {
  long long delta = 0;
  if (!parse_integer_or_reply(request, request.args[3], delta)) return;
  bool wrong_type = false;
  const KvHash* existing = find_hash(request, wrong_type);
  if (wrong_type) return;
  long long value = 0;
  const std::string* current = existing != nullptr ? existing->find(request.args[2]) : nullptr;
  if (current != nullptr && !parse_integer(*current, value)) {
    return request.out.error("ERR hash value is not an integer");
  }
  if ((delta < 0 && value < 0 && delta < LLONG_MIN - value) ||
      (delta > 0 && value > 0 && delta > LLONG_MAX - value)) {
    return request.out.error(kv_error::kOverflow);
  }
  value += delta;
  write_hash(request)->set(request.args[2], std::to_string(value));
  request.out.integer(value);
}

void hincrbyfloat_command(CommandRequest& request) {
  long double delta = 0;
  if (!parse_long_double(request.args[3], delta)) return request.out.error(kv_error::kNotFloat);
  if (std::isnan(delta) || std::isinf(delta)) {
    return request.out.error("ERR value is NaN or Infinity");
  }
  bool wrong_type = false;
  const KvHash* existing = find_hash(request, wrong_type);
  if (wrong_type) return;
  long double value = 0;
  const std::string* current = existing != nullptr ? existing->find(request.args[2]) : nullptr;
  if (current != nullptr && !parse_long_double(*current, value)) {
    return request.out.error("ERR hash value is not a float");
  }
  value += delta;
  if (std::isnan(value) || std::isinf(value)) {
    return request.out.error("ERR increment would produce NaN or Infinity");
  }
  const std::string text = format_long_double(value);
  write_hash(request)->set(request.args[2], text);
  request.out.bulk(text);
}

// HSCAN key cursor [MATCH pattern] [COUNT n]: like Redis with a small (listpack) hash, all the
// fields in one reply, with cursor 0, whatever the cursor given.
void hscan_command(CommandRequest& request) {
  const auto& args = request.args;
  unsigned long cursor = 0;
  if (!parse_scan_cursor(args[2], cursor)) return request.out.error("ERR invalid cursor");
  bool wrong_type = false;
  const KvHash* hash = find_hash(request, wrong_type);
  if (wrong_type) return;
  if (hash == nullptr) {
    request.out.array(2);
    request.out.bulk("0");
    return request.out.array(0);
  }
  std::string_view pattern;
  bool has_pattern = false;
  for (std::size_t i = 3; i < args.size(); i += 2) {
    const bool has_value = i + 1 < args.size();
    if (equals_ignore_case(args[i], "count") && has_value) {
      long long count = 0;
      if (!parse_integer_or_reply(request, args[i + 1], count)) return;
      if (count < 1) return request.out.error(kv_error::kSyntax);
    } else if (equals_ignore_case(args[i], "match") && has_value) {
      pattern = args[i + 1];
      has_pattern = pattern != "*";
    } else {
      return request.out.error(kv_error::kSyntax);
    }
  }
  std::vector<const KvHash::Field*> matched;
  for (const KvHash::Field& field : hash->fields()) {
    if (!has_pattern || glob_match(pattern, field.first)) matched.push_back(&field);
  }
  request.out.array(2);
  request.out.bulk("0");
  request.out.array(matched.size() * 2);
  for (const KvHash::Field* field : matched) {
    request.out.bulk(field->first);
    request.out.bulk(field->second);
  }
}

}  // namespace lf
