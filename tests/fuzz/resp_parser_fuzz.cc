// libFuzzer target: RespParser. Parses the input as a stream of Redis commands twice, once whole
// and once fed one byte at a time; both must give the same commands and the same error, never
// consume more than they were given, and (under ASan) never read outside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lf/handlers/kv/resp_parser.h"

namespace {

struct Outcome {
  std::vector<std::vector<std::string>> commands;  // with the bytes each consumed, last
  std::string error;
  bool operator==(const Outcome&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

Outcome run(std::string_view input, lf::RespLimits limits, std::size_t step) {
  Outcome out;
  lf::RespParser parser(limits);
  std::size_t start = 0;
  std::size_t have = step == 0 ? input.size() : 0;
  while (start < input.size()) {
    if (step != 0) have = std::min(input.size() - start, have + step);
    const std::string data(input.substr(start, have));
    const auto status = parser.parse(data);
    if (status == lf::RespParser::Status::kError) {
      out.error = parser.error();
      check(!out.error.empty());
      break;
    }
    if (status == lf::RespParser::Status::kNeedMore) {
      if (step == 0 || have == input.size() - start) break;
      continue;
    }
    const std::size_t consumed = parser.consumed();
    check(consumed > 0 && consumed <= data.size());
    // Arguments come out of the bytes consumed (inline ones unescaped, so never longer).
    std::vector<std::string> command(parser.args().begin(), parser.args().end());
    std::size_t total = 0;
    for (const auto& arg : command) total += arg.size();
    check(total <= consumed && command.size() <= consumed);
    command.push_back(std::to_string(consumed));
    out.commands.push_back(std::move(command));
    start += consumed;
    have = step == 0 ? input.size() - start : 0;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 16 * 1024) return 0;
  const bool small = (data[0] & 1) != 0;
  const lf::RespLimits limits = small ? lf::RespLimits{64, 8, 128} : lf::RespLimits{};
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = run(input, limits, 0);
  const Outcome bytewise = run(input, limits, 1);
  check(whole == bytewise);
  return 0;
}
