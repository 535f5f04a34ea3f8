// Public. KvSession: what a key-value server knows about one client (its id, CLIENT SETNAME
// name, whether to close after the reply). Owned by the connection and used from its hooks only:
// not thread safe. Sessions also count the connected clients for INFO (process wide).
#pragma once

#include <cstdint>
#include <string>

namespace lf {

class KvSession {
 public:
  KvSession();
  ~KvSession();
  KvSession(const KvSession&) = delete;
  KvSession& operator=(const KvSession&) = delete;

  // Unique in the process, from 1 (CLIENT ID, HELLO).
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // QUIT or a protocol error: send what is queued, then close; ignore the rest of the input.
  [[nodiscard]] bool closing() const noexcept { return closing_; }
  void close_after_reply() noexcept { closing_ = true; }

  // Sessions alive in this process.
  [[nodiscard]] static std::uint64_t connected() noexcept;

 private:
  std::uint64_t id_;
  std::string name_;
  bool closing_ = false;
};

}  // namespace lf
