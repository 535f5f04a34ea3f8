// Strings: GET, SET and their variants, counters, ranges, as Redis 7.0 does them.
#include <climits>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/float_text.h"

namespace lf {
namespace {

using Deadline = KvStore::Deadline;

constexpr long long kMaxStringLength = 512LL * 1024 * 1024;  // Redis's proto-max-bulk-len

enum class ExpireUnit { kNone, kEx, kPx, kExAt, kPxAt };

// The deadline an expiry option names, validated as Redis's getExpireMillisecondsOrReply
// (positive; relative times must not overflow once the current time is added).
bool resolve_expire(CommandRequest& request, ExpireUnit unit, std::string_view text,
                    Deadline& deadline) {
  long long ms = 0;
  if (!parse_integer_or_reply(request, text, ms)) return false;
  const bool seconds = unit == ExpireUnit::kEx || unit == ExpireUnit::kExAt;
  if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) {
    reply_invalid_expire(request);
    return false;
  }
  if (seconds) ms *= 1000;
  if (unit == ExpireUnit::kEx || unit == ExpireUnit::kPx) {
    const long long unix_now = unix_now_ms();
    if (ms > LLONG_MAX - unix_now) {
      reply_invalid_expire(request);
      return false;
    }
    deadline = deadline_after(request.db.now(), ms);
  } else {
    deadline = deadline_from_unix_ms(ms);
  }
  return true;
}

bool is_option(std::string_view arg, std::string_view option) {
  return equals_ignore_case(arg, option);
}

// An expiry option at args[i] (EX, PX, EXAT, PXAT followed by a value): Redis allows one kind,
// repeated (the last value wins), and none after KEEPTTL or PERSIST (`exclusive`).
bool take_expire_option(std::span<const std::string_view> args, std::size_t& i, bool exclusive,
                        ExpireUnit& unit, std::string_view& value) {
  static constexpr std::pair<std::string_view, ExpireUnit> kUnits[] = {
      {"ex", ExpireUnit::kEx},
      {"px", ExpireUnit::kPx},
      {"exat", ExpireUnit::kExAt},
      {"pxat", ExpireUnit::kPxAt}};
  for (const auto& [name, self] : kUnits) {
    if (!is_option(args[i], name)) continue;
    if (exclusive || (unit != ExpireUnit::kNone && unit != self) || i + 1 >= args.size()) {
      return false;
    }
    unit = self;
    value = args[++i];
    return true;
  }
  return false;
}

void reply_increment(CommandRequest& request, long long delta) {
  const auto result = request.db.increment(request.args[1], delta);
  switch (result.status) {
    case KvStore::IncrementStatus::kOk: return request.out.integer(result.value);
    case KvStore::IncrementStatus::kNotInteger: return request.out.error(kv_error::kNotInteger);
    case KvStore::IncrementStatus::kOverflow: return request.out.error(kv_error::kOverflow);
    case KvStore::IncrementStatus::kWrongType: return request.out.error(kv_error::kWrongType);
  }
}

// SETEX and PSETEX: SET key value EX|PX n.
void set_with_expiry(CommandRequest& request, ExpireUnit unit) {
  KvStore::SetOptions options;
  if (!resolve_expire(request, unit, request.args[2], options.expire_at)) return;
  request.db.set(request.args[1], request.args[3], options);
  request.out.ok();
}

// MSET and MSETNX: all or nothing, deadlines cleared.
bool set_many(CommandRequest& request, bool only_if_none_exists) {
  const auto& args = request.args;
  if (only_if_none_exists) {
    for (std::size_t i = 1; i < args.size(); i += 2) {
      if (request.db.find(args[i]) != nullptr) return false;
    }
  }
  for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
    request.db.write(args[i]).value = std::string(args[i + 1]);
    request.db.set_deadline(args[i], KvStore::kNoExpiry);
  }
  return true;
}

}  // namespace

void ping_command(CommandRequest& request) {
  if (request.args.size() > 2) return reply_arity_error(request.out, request.name);
  if (request.args.size() == 2) return request.out.bulk(request.args[1]);
  request.out.simple("PONG");
}

void echo_command(CommandRequest& request) { request.out.bulk(request.args[1]); }

void get_command(CommandRequest& request) {
  bool wrong_type = false;
  const std::string* value = find_string(request, request.args[1], wrong_type);
  if (!wrong_type) reply_bulk_or_null(request.out, value);
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], with Redis's rules for which
// options combine (a repeated option is allowed; the last value wins).
void set_command(CommandRequest& request) {
  const auto& args = request.args;
  bool nx = false, xx = false, get = false, keep_ttl = false;
  ExpireUnit unit = ExpireUnit::kNone;
  std::string_view expire;
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string_view option = args[i];
    if (is_option(option, "nx") && !xx) {
      nx = true;
    } else if (is_option(option, "xx") && !nx) {
      xx = true;
    } else if (is_option(option, "get")) {
      get = true;
    } else if (is_option(option, "keepttl") && unit == ExpireUnit::kNone) {
      keep_ttl = true;
    } else if (!take_expire_option(args, i, keep_ttl, unit, expire)) {
      return request.out.error(kv_error::kSyntax);
    }
  }
  KvStore::SetOptions options;
  options.keep_ttl = keep_ttl;
  options.return_old = get;
  if (nx) options.condition = KvStore::SetCondition::kIfAbsent;
  if (xx) options.condition = KvStore::SetCondition::kIfPresent;
  if (unit != ExpireUnit::kNone && !resolve_expire(request, unit, expire, options.expire_at)) {
    return;
  }
  const auto result = request.db.set(args[1], args[2], options);
  if (result.wrong_type) return request.out.error(kv_error::kWrongType);
  if (get) return reply_bulk_or_null(request.out, result.old_value ? &*result.old_value : nullptr);
  if (result.written) return request.out.ok();
  request.out.null();
}

void setnx_command(CommandRequest& request) {
  KvStore::SetOptions options;
  options.condition = KvStore::SetCondition::kIfAbsent;
  request.out.integer(request.db.set(request.args[1], request.args[2], options).written ? 1 : 0);
}

void setex_command(CommandRequest& request) { set_with_expiry(request, ExpireUnit::kEx); }
void psetex_command(CommandRequest& request) { set_with_expiry(request, ExpireUnit::kPx); }

void getset_command(CommandRequest& request) {
  KvStore::SetOptions options;
  options.return_old = true;
  const auto result = request.db.set(request.args[1], request.args[2], options);
  if (result.wrong_type) return request.out.error(kv_error::kWrongType);
  reply_bulk_or_null(request.out, result.old_value ? &*result.old_value : nullptr);
}

void getdel_command(CommandRequest& request) {
  bool wrong_type = false;
  const std::string* value = find_string(request, request.args[1], wrong_type);
  if (wrong_type) return;
  reply_bulk_or_null(request.out, value);
  if (value != nullptr) request.db.erase(request.args[1]);
}

// GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]. Redis checks the syntax first, then the key,
// then the expiry value.
void getex_command(CommandRequest& request) {
  const auto& args = request.args;
  bool persist = false;
  ExpireUnit unit = ExpireUnit::kNone;
  std::string_view expire;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (is_option(args[i], "persist") && unit == ExpireUnit::kNone) {
      persist = true;
    } else if (!take_expire_option(args, i, persist, unit, expire)) {
      return request.out.error(kv_error::kSyntax);
    }
  }
  bool wrong_type = false;
  const std::string* value = find_string(request, args[1], wrong_type);
  if (wrong_type) return;
  if (value == nullptr) return request.out.null();
  Deadline deadline = KvStore::kNoExpiry;
  if (unit != ExpireUnit::kNone && !resolve_expire(request, unit, expire, deadline)) return;
  request.out.bulk(*value);
  if (unit != ExpireUnit::kNone) {
    if (deadline <= request.db.now()) {
      request.db.erase(args[1]);  // EXAT/PXAT in the past
    } else {
      request.db.set_deadline(args[1], deadline);
    }
  } else if (persist && request.db.find(args[1])->deadline != KvStore::kNoExpiry) {
    request.db.set_deadline(args[1], KvStore::kNoExpiry);
  }
}

void incr_command(CommandRequest& request) { reply_increment(request, 1); }
void decr_command(CommandRequest& request) { reply_increment(request, -1); }

void incrby_command(CommandRequest& request) {
  long long delta = 0;
  if (parse_integer_or_reply(request, request.args[2], delta)) reply_increment(request, delta);
}

void decrby_command(CommandRequest& request) {
  long long delta = 0;
  if (!parse_integer_or_reply(request, request.args[2], delta)) return;
  if (delta == LLONG_MIN) return request.out.error("ERR decrement would overflow");
  reply_increment(request, -delta);
}

// INCRBYFLOAT: long double arithmetic and formatting as Redis's; the deadline is kept.
void incrbyfloat_command(CommandRequest& request) {
  bool wrong_type = false;
  const std::string* current = find_string(request, request.args[1], wrong_type);
  if (wrong_type) return;
  long double value = 0;
  long double increment = 0;
  if ((current != nullptr && !parse_long_double(*current, value)) ||
      !parse_long_double(request.args[2], increment)) {
    return request.out.error(kv_error::kNotFloat);
  }
  value += increment;
  if (std::isnan(value) || std::isinf(value)) {
    return request.out.error("ERR increment would produce NaN or Infinity");
  }
  std::string text = format_long_double(value);
  request.out.bulk(text);
  request.db.write(request.args[1]).value = std::move(text);
}

// MGET: a missing key and a key of another type are both nil.
void mget_command(CommandRequest& request) {
  request.out.array(request.args.size() - 1);
  for (std::size_t i = 1; i < request.args.size(); ++i) {
    KvStore::Entry* entry = request.db.find(request.args[i]);
    reply_bulk_or_null(request.out, entry != nullptr ? entry->string() : nullptr);
  }
}

void mset_command(CommandRequest& request) {
  if (request.args.size() % 2 == 0) return reply_arity_error(request.out, request.name);
  set_many(request, /*only_if_none_exists=*/false);
  request.out.ok();
}

void msetnx_command(CommandRequest& request) {
  if (request.args.size() % 2 == 0) return reply_arity_error(request.out, request.name);
  request.out.integer(set_many(request, /*only_if_none_exists=*/true) ? 1 : 0);
}

void append_command(CommandRequest& request) {
  bool wrong_type = false;
  const std::string* current = find_string(request, request.args[1], wrong_type);
  if (wrong_type) return;
  const std::string_view tail = request.args[2];
  if (current != nullptr &&
      static_cast<long long>(current->size() + tail.size()) > kMaxStringLength) {
    return request.out.error(kv_error::kTooLong);
  }
  std::string& value = *request.db.write(request.args[1]).string();
  value.append(tail);
  request.out.integer(static_cast<long long>(value.size()));
}

void strlen_command(CommandRequest& request) {
  bool wrong_type = false;
  const std::string* value = find_string(request, request.args[1], wrong_type);
  if (!wrong_type) request.out.integer(value != nullptr ? static_cast<long long>(value->size()) : 0);
}

// GETRANGE key start end: negative indexes count from the end; the range is clamped.
void getrange_command(CommandRequest& request) {
  long long start = 0;
  long long end = 0;
  if (!parse_integer_or_reply(request, request.args[2], start) ||
      !parse_integer_or_reply(request, request.args[3], end)) {
    return;
  }
  bool wrong_type = false;
  const std::string* value = find_string(request, request.args[1], wrong_type);
  if (wrong_type) return;
  if (value == nullptr) return request.out.bulk("");
  const auto length = static_cast<long long>(value->size());
  if (start < 0 && end < 0 && start > end) return request.out.bulk("");
  if (start < 0) start += length;
  if (end < 0) end += length;
  start = std::max(start, 0LL);
  end = std::max(end, 0LL);
  if (end >= length) end = length - 1;
  if (start > end || length == 0) return request.out.bulk("");
  request.out.bulk(std::string_view(*value).substr(static_cast<std::size_t>(start),
                                                   static_cast<std::size_t>(end - start + 1)));
}

// SETRANGE key offset value: zero-padded as needed.
void setrange_command(CommandRequest& request) {
  long long offset = 0;
  if (!parse_integer_or_reply(request, request.args[2], offset)) return;
  if (offset < 0) return request.out.error("ERR offset is out of range");
  const std::string_view patch = request.args[3];
  bool wrong_type = false;
  const std::string* current = find_string(request, request.args[1], wrong_type);
  if (wrong_type) return;
  if (patch.empty()) {
    return request.out.integer(current != nullptr ? static_cast<long long>(current->size()) : 0);
  }
  if (offset + static_cast<long long>(patch.size()) > kMaxStringLength) {
    return request.out.error(kv_error::kTooLong);
  }
  std::string& value = *request.db.write(request.args[1]).string();
  const auto at = static_cast<std::size_t>(offset);
  if (value.size() < at + patch.size()) value.resize(at + patch.size(), '\0');
  value.replace(at, patch.size(), patch);
  request.out.integer(static_cast<long long>(value.size()));
}

}  // namespace lf
