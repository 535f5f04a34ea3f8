#include "lf/handlers/kv/kv_connection.h"

#include <algorithm>
#include <string>
#include <utility>

#include "lf/handlers/kv/kv_clients.h"
#include "lf/handlers/kv/kv_commands.h"
#include "lf/handlers/kv/resp_writer.h"
#include "lf/log/log.h"

namespace lf {
namespace {

RespLimits effective_limits(const KvOptions& options) {
  RespLimits limits = options.limits;
  limits.max_bulk_length = std::min(limits.max_bulk_length, options.max_input_buffer);
  return limits;
}

}  // namespace

KvConnection::KvConnection(std::shared_ptr<KvStore> store, KvOptions options)
    : store_(std::move(store)), options_(options), parser_(effective_limits(options)) {}

void KvConnection::on_connect() {
  kv_clients::add({&session_, std::static_pointer_cast<StreamConnection>(shared_from_this()), this,
                   peer_address().to_string(), local_address().to_string(), handle()});
}

void KvConnection::on_message(Buffer& input) {
  if (closing_) {
    input.retrieve_all();
    return;
  }
  publish_memory(input);  // the commands about to run count as input, as in Redis
  RespWriter out(replies_);
  const std::string_view data = input.view();
  std::size_t used = 0;
  for (;;) {
    const auto status = parser_.parse(data.substr(used));
    if (status == RespParser::Status::kCommand) {
      used += parser_.consumed();
      execute_command(parser_.args(), *store_, session_, out);
      if (session_.closing()) break;  // QUIT: the rest of the input is ignored
      // Large batches go out in pieces: replies_ stays small, nothing is held twice.
      if (replies_.readable_bytes() >= kRepliesBatch) send(replies_);
      // Answers above the high-water mark: the rest of a pipeline waits in `input` until they
      // drain (on_message runs again then), so a slow reader cannot make us buffer without bound.
      if (output_full(replies_.readable_bytes())) break;
      continue;
    }
    if (status == RespParser::Status::kError) {
      LF_LOG_DEBUG("{}: {}", peer_address().to_string(), parser_.error());
      out.error("ERR " + parser_.error());
      session_.close_after_reply();
      break;
    }
    const std::size_t pending = std::max(data.size() - used, parser_.bytes_needed());
    if (pending > options_.max_input_buffer) {
      LF_LOG_WARN("{}: closing, a command needs {} bytes of input, more than the limit of {}",
                  peer_address().to_string(), pending, options_.max_input_buffer);
      session_.close_after_reply();
    }
    break;
  }
  input.retrieve(used);
  if (replies_.readable_bytes() > 0) send(replies_);
  replies_.release_if_empty(kRepliesBatch);  // one large reply must not stay with the connection
  if (session_.closing()) close_after_reply();
  if (closing_) input.retrieve_all();
  publish_memory(input);
}

void KvConnection::publish_memory(const Buffer& input) noexcept {
  // Empty input gives its storage back to the thread once on_message returns (StreamConnection):
  // it holds nothing then.
  const std::size_t input_held = input.readable_bytes() > 0 ? input.capacity() : 0;
  session_.publish_memory({input.readable_bytes(),
                           input.readable_bytes() > 0 ? input.writable_bytes() : 0,
                           sizeof(*this) + input_held + replies_.capacity()});
}

void KvConnection::close_after_reply() {
  closing_ = true;
  shutdown();
  start_timer(options_.close_linger, [this] { force_close(); });  // the peer did not close
}

}  // namespace lf
