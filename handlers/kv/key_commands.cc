// The keyspace: DEL, EXISTS, TYPE, expiry, KEYS, SCAN, RENAME, COPY, FLUSHALL and friends, as
// Redis 7.0 does them.
#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/glob_match.h"
#include "lf/handlers/kv/integer_text.h"

namespace lf {
namespace {

std::string_view type_name(const KvStore::Entry* entry) {
  if (entry == nullptr) return "none";
  return entry->string() != nullptr ? "string" : "hash";
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key n [NX|XX|GT|LT].
void expire_generic(CommandRequest& request, bool seconds, bool absolute) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (std::size_t i = 3; i < request.args.size(); ++i) {
    const std::string_view option = request.args[i];
    if (equals_ignore_case(option, "nx")) {
      nx = true;
    } else if (equals_ignore_case(option, "xx")) {
      xx = true;
    } else if (equals_ignore_case(option, "gt")) {
      gt = true;
    } else if (equals_ignore_case(option, "lt")) {
      lt = true;
    } else {
      return reply_error_text(request.out, "ERR Unsupported option " + std::string(option));
    }
  }
  if (nx && (xx || gt || lt)) {
    return request.out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) {
    return request.out.error("ERR GT and LT options at the same time are not compatible");
  }
  long long when = 0;
  if (!parse_integer_or_reply(request, request.args[2], when)) return;
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) return reply_invalid_expire(request);
    when *= 1000;
  }
  // Redis adds the base time (now, or 0 for the AT forms) and refuses what would overflow.
  const long long base = absolute ? 0 : unix_now_ms();
  if (when > LLONG_MAX - base) return reply_invalid_expire(request);
  const KvStore::ExpireCondition condition{nx, xx, gt, lt};
  const KvStore::Deadline deadline =
      absolute ? deadline_from_unix_ms(when) : deadline_after(request.db.now(), when);
  const bool applied = request.db.expire_at(request.args[1], deadline, condition);
  request.out.integer(applied ? 1 : 0);
}

void ttl_generic(CommandRequest& request, bool milliseconds) {
  const KvStore::Entry* entry = request.db.find(request.args[1]);
  if (entry == nullptr) return request.out.integer(-2);
  if (entry->deadline == KvStore::kNoExpiry) return request.out.integer(-1);
  const long long ms = std::max<long long>((entry->deadline - request.db.now()).count(), 0);
  request.out.integer(milliseconds ? ms : (ms + 500) / 1000);
}

void expiretime_generic(CommandRequest& request, bool milliseconds) {
  const KvStore::Entry* entry = request.db.find(request.args[1]);
  if (entry == nullptr) return request.out.integer(-2);
  if (entry->deadline == KvStore::kNoExpiry) return request.out.integer(-1);
  const long long unix_ms = unix_ms_from_deadline(entry->deadline);
  request.out.integer(milliseconds ? unix_ms : (unix_ms + 500) / 1000);  // rounded, as Redis
}

// RENAME and RENAMENX; the deadline moves with the value.
void rename_generic(CommandRequest& request, bool only_if_new) {
  const std::string_view from = request.args[1];
  const std::string_view to = request.args[2];
  KvStore::Entry* source = request.db.find(from);
  if (source == nullptr) return request.out.error(kv_error::kNoSuchKey);
  const auto reply_done = [&] {
    if (only_if_new) return request.out.integer(1);
    request.out.ok();
  };
  if (from == to) return only_if_new ? request.out.integer(0) : request.out.ok();
  if (only_if_new && request.db.find(to) != nullptr) return request.out.integer(0);
  auto value = std::move(source->value);
  const KvStore::Deadline deadline = source->deadline;
  request.db.erase(from);
  request.db.write(to).value = std::move(value);
  request.db.set_deadline(to, deadline);
  reply_done();
}

}  // namespace

void del_command(CommandRequest& request) {
  long long removed = 0;
  for (std::size_t i = 1; i < request.args.size(); ++i) {
    if (request.db.erase(request.args[i])) ++removed;
  }
  request.out.integer(removed);
}

// EXISTS and TOUCH: a key named twice counts twice, as in Redis.
void exists_command(CommandRequest& request) {
  long long found = 0;
  for (std::size_t i = 1; i < request.args.size(); ++i) {
    if (request.db.find(request.args[i]) != nullptr) ++found;
  }
  request.out.integer(found);
}

void touch_command(CommandRequest& request) { exists_command(request); }

void type_command(CommandRequest& request) {
  request.out.simple(type_name(request.db.find(request.args[1])));
}

void expire_command(CommandRequest& request) { expire_generic(request, true, false); }
void pexpire_command(CommandRequest& request) { expire_generic(request, false, false); }
void expireat_command(CommandRequest& request) { expire_generic(request, true, true); }
void pexpireat_command(CommandRequest& request) { expire_generic(request, false, true); }
void expiretime_command(CommandRequest& request) { expiretime_generic(request, false); }
void pexpiretime_command(CommandRequest& request) { expiretime_generic(request, true); }
void ttl_command(CommandRequest& request) { ttl_generic(request, false); }
void pttl_command(CommandRequest& request) { ttl_generic(request, true); }

void persist_command(CommandRequest& request) {
  const KvStore::Entry* entry = request.db.find(request.args[1]);
  if (entry == nullptr || entry->deadline == KvStore::kNoExpiry) return request.out.integer(0);
  request.db.set_deadline(request.args[1], KvStore::kNoExpiry);
  request.out.integer(1);
}

void keys_command(CommandRequest& request) {
  const std::string_view pattern = request.args[1];
  const bool all = pattern == "*";  // as Redis: this matches the empty key too
  std::vector<std::string_view> keys;
  for (std::size_t shard = 0; shard < request.db.shard_count(); ++shard) {
    request.db.for_each_in_shard(shard, [&](std::string_view key, const KvStore::Entry&) {
      if (all || glob_match(pattern, key)) keys.push_back(key);
    });
  }
  request.out.array(keys.size());
  for (const std::string_view key : keys) request.out.bulk(key);
}

// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. The cursor is the next shard to visit:
// each call returns whole shards until COUNT keys were looked at, so every key present for the
// whole iteration is returned exactly once, however the shards' tables grow meanwhile.
void scan_command(CommandRequest& request) {
  const auto& args = request.args;
  unsigned long cursor = 0;
  if (!parse_scan_cursor(args[1], cursor)) return request.out.error("ERR invalid cursor");
  long long count = 10;
  std::string_view pattern;
  std::string_view type;
  bool has_pattern = false;
  bool has_type = false;
  for (std::size_t i = 2; i < args.size(); i += 2) {
    const bool has_value = i + 1 < args.size();
    if (equals_ignore_case(args[i], "count") && has_value) {
      if (!parse_integer_or_reply(request, args[i + 1], count)) return;
      if (count < 1) return request.out.error(kv_error::kSyntax);
    } else if (equals_ignore_case(args[i], "match") && has_value) {
      pattern = args[i + 1];
      has_pattern = pattern != "*";
    } else if (equals_ignore_case(args[i], "type") && has_value) {
      type = args[i + 1];
      has_type = true;
    } else {
      return request.out.error(kv_error::kSyntax);
    }
  }
  std::vector<std::string_view> keys;
  std::size_t shard = cursor;
  long long examined = 0;
  for (; shard < request.db.shard_count() && examined < count; ++shard) {
    request.db.for_each_in_shard(shard, [&](std::string_view key, const KvStore::Entry& entry) {
      ++examined;
      if (has_pattern && !glob_match(pattern, key)) return;
      if (has_type && !equals_ignore_case(type, type_name(&entry))) return;
      keys.push_back(key);
    });
  }
  const std::size_t next = shard < request.db.shard_count() ? shard : 0;
  request.out.array(2);
  request.out.bulk(std::to_string(next));
  request.out.array(keys.size());
  for (const std::string_view key : keys) request.out.bulk(key);
}

void randomkey_command(CommandRequest& request) {
  const auto key = request.db.random_key();
  reply_bulk_or_null(request.out, key ? &*key : nullptr);
}

void rename_command(CommandRequest& request) { rename_generic(request, false); }
void renamenx_command(CommandRequest& request) { rename_generic(request, true); }

// COPY source destination [DB 0] [REPLACE]: value and deadline.
void copy_command(CommandRequest& request) {
  const auto& args = request.args;
  bool replace = false;
  for (std::size_t i = 3; i < args.size(); ++i) {
    if (equals_ignore_case(args[i], "replace")) {
      replace = true;
    } else if (equals_ignore_case(args[i], "db") && i + 1 < args.size()) {
      long long db = 0;
      if (!parse_integer_or_reply(request, args[++i], db)) return;
      if (db != 0) return request.out.error(kv_error::kDbIndex);
    } else {
      return request.out.error(kv_error::kSyntax);
    }
  }
  if (args[1] == args[2]) return request.out.error("ERR source and destination objects are the same");
  const KvStore::Entry* source = request.db.find(args[1]);
  if (source == nullptr) return request.out.integer(0);
  if (!replace && request.db.find(args[2]) != nullptr) return request.out.integer(0);
  auto value = source->value;
  const KvStore::Deadline deadline = source->deadline;
  request.db.write(args[2]).value = std::move(value);
  request.db.set_deadline(args[2], deadline);
  request.out.integer(1);
}

void dbsize_command(CommandRequest& request) {
  request.out.integer(static_cast<long long>(request.db.size()));
}

// FLUSHALL / FLUSHDB [ASYNC|SYNC]
void flushall_command(CommandRequest& request) {
  if (request.args.size() > 2 ||
      (request.args.size() == 2 && !equals_ignore_case(request.args[1], "sync") &&
       !equals_ignore_case(request.args[1], "async"))) {
    return request.out.error(kv_error::kSyntax);
  }
  request.db.clear();
  request.out.ok();
}

}  // namespace lf
