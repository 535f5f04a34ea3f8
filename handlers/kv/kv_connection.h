// Public. KvConnection: one client of the Redis-protocol key-value server. It parses RESP2 and
// inline requests (pipelined requests are answered with one write), runs them against the
// shared KvStore, and treats hostile input as Redis does: a protocol error gets
// "-ERR Protocol error: ..." and the connection is closed after the reply. Its hooks run on
// ThreadSet threads, one at a time.
//
//   auto store = std::make_shared<lf::KvStore>();
//   store->start_expiry_sweep(server.timers());
//   server.listen<lf::KvConnection>(address, listen_options, store, lf::KvOptions{});
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "lf/handlers/kv/kv_session.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/handlers/kv/resp_parser.h"
#include "lf/net/buffer.h"
#include "lf/net/stream_connection.h"

namespace lf {

struct KvOptions {
  RespLimits limits;
  // The most input one connection may hold for an unfinished command (Redis's
  // client-query-buffer-limit, smaller). A bulk longer than this is refused as an invalid bulk
  // length as soon as its header arrives; a command of many arguments that outgrows it closes the
  // connection (as Redis does, without a reply). Either way, no more than this is ever buffered.
  std::size_t max_input_buffer = 64 * 1024 * 1024;
  // After QUIT or a protocol error the connection waits this long for the peer to close.
  std::chrono::milliseconds close_linger{1000};
};

class KvConnection : public StreamConnection {
 public:
  explicit KvConnection(std::shared_ptr<KvStore> store, KvOptions options = {});

 protected:
  void on_connect() override;  // joins the client list (CLIENT LIST, CLIENT KILL)
  void on_message(Buffer& input) override;

 private:
  // Replies sent, input ignored from now on; the connection closes once the peer does or after
  // close_linger.
  void close_after_reply();
  // Tells the session what CLIENT LIST shows about this connection's memory.
  void publish_memory(const Buffer& input) noexcept;

  std::shared_ptr<KvStore> store_;
  KvOptions options_;
  RespParser parser_;
  KvSession session_;
  // Replies gathered up to this size go out with one send().
  static constexpr std::size_t kRepliesBatch = 64 * 1024;
  Buffer replies_;  // reused for every batch of replies
  bool closing_ = false;
};

}  // namespace lf
