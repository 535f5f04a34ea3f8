// Helpers the command implementations share (declared in command_request.h).
#include <algorithm>
#include <chrono>

#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/integer_text.h"

namespace lf {
namespace {

long long steady_now_ms() { return KvStore::now().time_since_epoch().count(); }

// Unix time minus the store's steady clock, fixed once: deadlines set with EXPIREAT read back
// exactly with EXPIRETIME, and a wall-clock step does not move the keys' deadlines.
long long unix_offset_ms() {
  static const long long offset = unix_now_ms() - steady_now_ms();
  return offset;
}

}  // namespace

void reply_bulk_or_null(RespWriter& out, const std::string* value) {
  if (value != nullptr) {
    out.bulk(*value);
  } else {
    out.null();
  }
}

bool parse_integer_or_reply(CommandRequest& request, std::string_view text, long long& value) {
  if (parse_integer(text, value)) return true;
  request.out.error(kv_error::kNotInteger);
  return false;
}

std::string* find_string(CommandRequest& request, std::string_view key, bool& wrong_type) {
  wrong_type = false;
  KvStore::Entry* entry = request.db.find(key);
  if (entry == nullptr) return nullptr;
  std::string* value = entry->string();
  if (value == nullptr) {
    wrong_type = true;
    request.out.error(kv_error::kWrongType);
  }
  return value;
}

long long unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

KvStore::Deadline deadline_from_unix_ms(long long unix_ms) {
  // Far past values are clamped: they only have to be in the past, and must not overflow.
  constexpr long long kFarPast = -(1LL << 50);
  const long long steady = std::max(unix_ms, kFarPast) - unix_offset_ms();
  return KvStore::Deadline(std::chrono::milliseconds(steady));
}

KvStore::Deadline deadline_after(KvStore::Deadline now, long long ms) {
  constexpr long long kFarPast = -(1LL << 50);  // it only has to be in the past
  return now + std::chrono::milliseconds(std::max(ms, kFarPast));
}

long long unix_ms_from_deadline(KvStore::Deadline deadline) {
  return deadline.time_since_epoch().count() + unix_offset_ms();
}

bool valid_client_name(std::string_view name) noexcept {
  return std::all_of(name.begin(), name.end(), [](char c) { return c >= '!' && c <= '~'; });
}

void reply_invalid_expire(CommandRequest& request) {
  request.out.error("ERR invalid expire time in '" + std::string(request.name) + "' command");
}

}  // namespace lf
