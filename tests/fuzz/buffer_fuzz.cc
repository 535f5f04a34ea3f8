// libFuzzer target: Buffer. Runs the input as a program of Buffer operations and applies each to
// a std::string model as well; after every step the readable bytes must equal the model and the
// indices must be consistent.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "lf/net/buffer.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// Reads the program: bytes are taken from the front, zeros once it runs out.
class Program {
 public:
  Program(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool done() const noexcept { return pos_ >= size_; }
  std::uint8_t byte() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  std::size_t number() noexcept { return static_cast<std::size_t>(byte()) << 8 | byte(); }
  std::string bytes(std::size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    std::string out(reinterpret_cast<const char*>(data_) + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

template <typename T>
std::string big_endian(T x) {
  std::string out(sizeof(T), '\0');
  auto u = static_cast<std::make_unsigned_t<T>>(x);
  for (std::size_t i = sizeof(T); i-- > 0;) {
    out[i] = static_cast<char>(u & 0xff);
    u = static_cast<decltype(u)>(u >> 8);
  }
  return out;
}

template <typename T>
T from_big_endian(std::string_view bytes) {
  std::make_unsigned_t<T> u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    u = static_cast<decltype(u)>(u << 8 | static_cast<unsigned char>(bytes[i]));
  return static_cast<T>(u);
}

void consistent(const lf::Buffer& b, const std::string& model) {
  check(b.view() == model);
  check(b.readable_bytes() == model.size());
  check(b.prependable_bytes() + b.readable_bytes() + b.writable_bytes() <= b.capacity());
  const auto crlf = model.find("\r\n");
  const char* found = b.find_crlf();
  check(crlf == std::string::npos ? found == nullptr : found == b.peek() + crlf);
  const auto eol = model.find('\n');
  const char* found_eol = b.find_eol();
  check(eol == std::string::npos ? found_eol == nullptr : found_eol == b.peek() + eol);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Program program(data, size);
  lf::Buffer buffer(program.byte());
  std::string model;
  while (!program.done()) {
    switch (program.byte() % 18) {
      case 0: {  // append
        const std::string s = program.bytes(program.byte());
        buffer.append(s);
        model += s;
        break;
      }
      case 1: {  // append part of its own readable bytes (it doubles at most: keep it small)
        if (model.size() > 64 * 1024) break;
        const std::size_t n = model.empty() ? 0 : program.number() % model.size();
        buffer.append(buffer.view().substr(n));
        model += model.substr(n);
        break;
      }
      case 2: {  // retrieve
        const std::size_t n = model.empty() ? 0 : program.number() % (model.size() + 1);
        buffer.retrieve(n);
        model.erase(0, n);
        break;
      }
      case 3:
        buffer.retrieve_all();
        model.clear();
        break;
      case 4: {
        const std::size_t n = model.empty() ? 0 : program.number() % (model.size() + 1);
        check(buffer.retrieve_as_string(n) == model.substr(0, n));
        model.erase(0, n);
        break;
      }
      case 5: {  // retrieve_until a line end, if any
        if (const char* eol = buffer.find_eol()) {
          const auto n = static_cast<std::size_t>(eol + 1 - buffer.peek());
          buffer.retrieve_until(eol + 1);
          model.erase(0, n);
        }
        break;
      }
      case 6: {  // write in place
        const std::size_t n = program.number() % 5000;
        buffer.ensure_writable(n);
        check(buffer.writable_bytes() >= n);
        const std::string s = program.bytes(n);
        if (!s.empty()) std::memcpy(buffer.begin_write(), s.data(), s.size());
        buffer.has_written(s.size());
        model += s;
        break;
      }
      case 7: {
        const std::size_t n = model.empty() ? 0 : program.number() % (model.size() + 1);
        buffer.unwrite(n);
        model.resize(model.size() - n);
        break;
      }
      case 8: {  // prepend what fits
        const std::size_t n = std::min<std::size_t>(program.byte() % 16, buffer.prependable_bytes());
        const std::string s = program.bytes(n);
        buffer.prepend(s.data(), s.size());
        model.insert(0, s);
        break;
      }
      case 9: {
        const auto x = static_cast<std::int32_t>(program.number() << 16 | program.number());
        buffer.append_int32(x);
        model += big_endian(x);
        break;
      }
      case 10: {
        const auto x = static_cast<std::int64_t>(program.number()) << 40 | 0x1234;
        buffer.append_int64(x);
        model += big_endian(x);
        break;
      }
      case 11:
        if (model.size() >= 4) {
          check(buffer.read_int32() == from_big_endian<std::int32_t>(model));
          model.erase(0, 4);
        }
        break;
      case 12:
        if (model.size() >= 8) {
          check(buffer.peek_int64() == from_big_endian<std::int64_t>(model));
          check(buffer.read_int64() == from_big_endian<std::int64_t>(model));
          model.erase(0, 8);
        }
        break;
      case 13:
        if (model.size() >= 2) {
          check(buffer.read_int16() == from_big_endian<std::int16_t>(model));
          model.erase(0, 2);
        }
        break;
      case 14:
        if (buffer.prependable_bytes() >= 4) {
          const auto x = static_cast<std::int32_t>(program.number());
          buffer.prepend_int32(x);
          model.insert(0, big_endian(x));
        }
        break;
      case 15:
        buffer.shrink(program.byte());
        break;
      case 16:
        if (buffer.release_if_empty(program.number())) check(model.empty());
        break;
      case 17: {  // copies, moves and swaps keep the contents
        lf::Buffer copy(buffer);
        consistent(copy, model);
        lf::Buffer moved(std::move(copy));
        consistent(moved, model);
        consistent(copy, std::string());  // moved-from: empty, still usable
        copy.append("x");
        check(copy.view() == "x");
        swap(moved, buffer);
        break;
      }
    }
    consistent(buffer, model);
  }
  check(buffer.retrieve_all_as_string() == model);
  return 0;
}
