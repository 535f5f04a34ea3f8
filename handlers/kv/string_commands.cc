// Strings and the keyspace: GET, SET, INCR, EXPIRE and friends, as Redis 7.0 does them.
#include <chrono>
#include <climits>
#include <optional>
#include <utility>
#include <vector>

#include "kv/command_request.h"
#include "kv/integer_text.h"

namespace lf {
namespace {

using Deadline = KvStore::Deadline;

long long unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A deadline `ms` from now; far past values are clamped (they only have to be in the past).
Deadline deadline_in(long long ms) {
  constexpr long long kFarPast = -(1LL << 50);
  return KvStore::now() + std::chrono::milliseconds(std::max(ms, kFarPast));
}

void reply_invalid_expire(CommandRequest& request) {
  request.out.error("ERR invalid expire time in '" + std::string(request.name) + "' command");
}

bool parse_or_reply(CommandRequest& request, std::string_view text, long long& value) {
  if (parse_integer(text, value)) return true;
  request.out.error(kv_error::kNotInteger);
  return false;
}

void reply_increment(CommandRequest& request, long long delta) {
  const auto result = request.store.increment(request.args[1], delta);
  switch (result.status) {
    case KvStore::IncrementStatus::kOk: return request.out.integer(result.value);
    case KvStore::IncrementStatus::kNotInteger: return request.out.error(kv_error::kNotInteger);
    case KvStore::IncrementStatus::kOverflow: return request.out.error(kv_error::kOverflow);
  }
}

// A two-letter option as Redis tests it (opt[0], opt[1], opt[2] == '\0').
bool is_option(std::string_view arg, std::string_view option) {
  return equals_ignore_case(arg, option);
}

void expire_generic(CommandRequest& request, bool seconds) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (std::size_t i = 3; i < request.args.size(); ++i) {
    const std::string_view option = request.args[i];
    if (is_option(option, "nx")) {
      nx = true;
    } else if (is_option(option, "xx")) {
      xx = true;
    } else if (is_option(option, "gt")) {
      gt = true;
    } else if (is_option(option, "lt")) {
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
  if (!parse_or_reply(request, request.args[2], when)) return;
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) return reply_invalid_expire(request);
    when *= 1000;
  }
  // Redis adds the Unix time in ms and refuses what would overflow.
  if (when > LLONG_MAX - unix_now_ms()) return reply_invalid_expire(request);
  const KvStore::ExpireCondition condition{nx, xx, gt, lt};
  const bool applied = request.store.expire_at(request.args[1], deadline_in(when), condition);
  request.out.integer(applied ? 1 : 0);
}

void ttl_generic(CommandRequest& request, bool milliseconds) {
  const auto deadline = request.store.deadline(request.args[1]);
  if (!deadline) return request.out.integer(-2);
  if (*deadline == KvStore::kNoExpiry) return request.out.integer(-1);
  const long long ms = std::max<long long>((*deadline - KvStore::now()).count(), 0);
  request.out.integer(milliseconds ? ms : (ms + 500) / 1000);
}

}  // namespace

void ping_command(CommandRequest& request) {
  if (request.args.size() > 2) return reply_arity_error(request.out, request.name);
  if (request.args.size() == 2) return request.out.bulk(request.args[1]);
  request.out.simple("PONG");
}

void echo_command(CommandRequest& request) { request.out.bulk(request.args[1]); }

void get_command(CommandRequest& request) {
  const auto value = request.store.get(request.args[1]);
  if (value) {
    request.out.bulk(*value);
  } else {
    request.out.null();
  }
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], with Redis's rules for which
// options combine (a repeated option is allowed; the last value wins).
void set_command(CommandRequest& request) {
  const auto& args = request.args;
  bool nx = false, xx = false, get = false, keep_ttl = false;
  enum class Unit { kNone, kEx, kPx, kExAt, kPxAt } unit = Unit::kNone;
  std::string_view expire;
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string_view option = args[i];
    const bool has_next = i + 1 < args.size();
    const auto can_expire = [&](Unit self) {
      return !keep_ttl && (unit == Unit::kNone || unit == self) && has_next;
    };
    if (is_option(option, "nx") && !xx) {
      nx = true;
    } else if (is_option(option, "xx") && !nx) {
      xx = true;
    } else if (is_option(option, "get")) {
      get = true;
    } else if (is_option(option, "keepttl") && unit == Unit::kNone) {
      keep_ttl = true;
    } else if (is_option(option, "ex") && can_expire(Unit::kEx)) {
      unit = Unit::kEx;
      expire = args[++i];
    } else if (is_option(option, "px") && can_expire(Unit::kPx)) {
      unit = Unit::kPx;
      expire = args[++i];
    } else if (is_option(option, "exat") && can_expire(Unit::kExAt)) {
      unit = Unit::kExAt;
      expire = args[++i];
    } else if (is_option(option, "pxat") && can_expire(Unit::kPxAt)) {
      unit = Unit::kPxAt;
      expire = args[++i];
    } else {
      return request.out.error(kv_error::kSyntax);
    }
  }
  KvStore::SetOptions options;
  options.keep_ttl = keep_ttl;
  options.return_old = get;
  if (nx) options.condition = KvStore::SetCondition::kIfAbsent;
  if (xx) options.condition = KvStore::SetCondition::kIfPresent;
  if (unit != Unit::kNone) {
    long long ms = 0;
    if (!parse_or_reply(request, expire, ms)) return;
    const bool seconds = unit == Unit::kEx || unit == Unit::kExAt;
    if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) return reply_invalid_expire(request);
    if (seconds) ms *= 1000;
    const long long unix_now = unix_now_ms();
    if (unit == Unit::kEx || unit == Unit::kPx) {
      if (ms > LLONG_MAX - unix_now) return reply_invalid_expire(request);
      options.expire_at = deadline_in(ms);
    } else {
      options.expire_at = deadline_in(ms - unix_now);
    }
  }
  const auto result = request.store.set(args[1], args[2], options);
  if (get) {
    if (result.old_value) return request.out.bulk(*result.old_value);
    return request.out.null();
  }
  if (result.written) return request.out.ok();
  request.out.null();
}

void del_command(CommandRequest& request) {
  long long removed = 0;
  for (std::size_t i = 1; i < request.args.size(); ++i) {
    if (request.store.erase(request.args[i])) ++removed;
  }
  request.out.integer(removed);
}

void exists_command(CommandRequest& request) {
  long long found = 0;  // a key named twice counts twice, as in Redis
  for (std::size_t i = 1; i < request.args.size(); ++i) {
    if (request.store.contains(request.args[i])) ++found;
  }
  request.out.integer(found);
}

void incr_command(CommandRequest& request) { reply_increment(request, 1); }
void decr_command(CommandRequest& request) { reply_increment(request, -1); }

void incrby_command(CommandRequest& request) {
  long long delta = 0;
  if (parse_or_reply(request, request.args[2], delta)) reply_increment(request, delta);
}

void decrby_command(CommandRequest& request) {
  long long delta = 0;
  if (!parse_or_reply(request, request.args[2], delta)) return;
  if (delta == LLONG_MIN) return request.out.error("ERR decrement would overflow");
  reply_increment(request, -delta);
}

void mget_command(CommandRequest& request) {
  request.out.array(request.args.size() - 1);
  for (std::size_t i = 1; i < request.args.size(); ++i) {
    const auto value = request.store.get(request.args[i]);
    if (value) {
      request.out.bulk(*value);
    } else {
      request.out.null();
    }
  }
}

void mset_command(CommandRequest& request) {
  if (request.args.size() % 2 == 0) return reply_arity_error(request.out, request.name);
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  pairs.reserve(request.args.size() / 2);
  for (std::size_t i = 1; i + 1 < request.args.size(); i += 2) {
    pairs.emplace_back(request.args[i], request.args[i + 1]);
  }
  request.store.set_many(pairs);
  request.out.ok();
}

void expire_command(CommandRequest& request) { expire_generic(request, /*seconds=*/true); }
void pexpire_command(CommandRequest& request) { expire_generic(request, /*seconds=*/false); }
void ttl_command(CommandRequest& request) { ttl_generic(request, /*milliseconds=*/false); }
void pttl_command(CommandRequest& request) { ttl_generic(request, /*milliseconds=*/true); }

void persist_command(CommandRequest& request) {
  request.out.integer(request.store.persist(request.args[1]) ? 1 : 0);
}

void dbsize_command(CommandRequest& request) {
  request.out.integer(static_cast<long long>(request.store.size()));
}

// FLUSHALL / FLUSHDB [ASYNC|SYNC]
void flushall_command(CommandRequest& request) {
  if (request.args.size() > 2 ||
      (request.args.size() == 2 && !equals_ignore_case(request.args[1], "sync") &&
       !equals_ignore_case(request.args[1], "async"))) {
    return request.out.error(kv_error::kSyntax);
  }
  request.store.clear();
  request.out.ok();
}

}  // namespace lf
