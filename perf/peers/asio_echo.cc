// asio_echo: the Boost.Asio peers of the perf suite (docs/perf.md). --contexts one: one io_context run
// by --threads threads; --contexts per-thread: --threads io_contexts with one thread each, the
// acceptor handing connections out round-robin. The session is the usual read_some / write loop
// (one operation outstanding per connection, so no strand is needed). --block-permille/--block-ms
// make X of every 1000 reads sleep in the handler; with --client-blocks the client marks the
// messages to block instead (the first byte of each --message-size message, handlers/echo/
// block_kind.h, the same code lf-echo runs), for the mixed workloads.
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lf/handlers/echo/block_kind.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Blocking {
  unsigned permille = 0;
  unsigned ms = 2;
  std::size_t message_size = 0;  // > 0: --client-blocks, messages of this size

  void maybe_block() const {
    if (permille == 0) return;
    thread_local std::uint64_t count = 0;
    // Spread evenly: block whenever count * permille / 1000 steps up.
    const std::uint64_t before = count++ * permille / 1000;
    if (count * permille / 1000 != before) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }

  // --client-blocks: blocks as each whole message in `data` asks; returns the bytes of whole
  // messages (the echo waits for all of them: a client with one message in flight sends no
  // batches, so none is held up by another's block).
  std::size_t block_as_marked(const char* data, std::size_t n) const {
    const std::size_t whole = n / message_size * message_size;
    for (std::size_t at = 0; at < whole; at += message_size) {
      const auto kind = lf::block_kind_of(static_cast<unsigned char>(data[at]));
      lf::block(kind, std::chrono::milliseconds(ms));
    }
    return whole;
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Blocking& blocking) : socket_(std::move(socket)), blocking_(blocking) {}

  void start() {
    socket_.set_option(tcp::no_delay(true));
    read();
  }

 private:
  // Reads after the `kept_` bytes of a partial message left at the start of data_.
  void read() {
    socket_.async_read_some(asio::buffer(data_.data() + kept_, data_.size() - kept_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                              if (ec) return;
                              self->on_read(n);
                            });
  }

  void on_read(std::size_t n) {
    if (blocking_.message_size == 0) {
      blocking_.maybe_block();
      return write(n);
    }
    const std::size_t filled = kept_ + n;
    const std::size_t whole = blocking_.block_as_marked(data_.data(), filled);
    kept_ = filled - whole;
    if (whole == 0) return read();
    write(whole);
  }

  void write(std::size_t n) {
    asio::async_write(socket_, asio::buffer(data_, n),
                      [self = shared_from_this(), n](boost::system::error_code ec, std::size_t) {
                        if (ec) return;
                        // The partial message after the echoed bytes moves to the front.
                        std::memmove(self->data_.data(), self->data_.data() + n, self->kept_);
                        self->read();
                      });
  }

  tcp::socket socket_;
  const Blocking& blocking_;
  std::array<char, 16384> data_{};
  std::size_t kept_ = 0;  // --client-blocks: bytes of a partial message at the start of data_
};

class Server {
 public:
  Server(std::vector<std::unique_ptr<asio::io_context>>& contexts, const tcp::endpoint& endpoint,
         const Blocking& blocking)
      : contexts_(contexts), acceptor_(*contexts.front(), endpoint), blocking_(blocking) {
    accept();
  }

 private:
  void accept() {
    asio::io_context& target = *contexts_[next_++ % contexts_.size()];
    acceptor_.async_accept(target, [this](boost::system::error_code ec, tcp::socket socket) {
      if (!ec) std::make_shared<Session>(std::move(socket), blocking_)->start();
      accept();
    });
  }

  std::vector<std::unique_ptr<asio::io_context>>& contexts_;
  tcp::acceptor acceptor_;
  const Blocking& blocking_;
  std::size_t next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"asio_echo: Boost.Asio echo server (perf suite peer)"};
  std::string host = "127.0.0.1";
  std::uint16_t port = 7101;
  unsigned threads = 2;
  std::string contexts_mode = "one";
  Blocking blocking;
  app.add_option("--host", host, "numeric address");
  app.add_option("--port", port, "port");
  app.add_option("--threads", threads, "threads")->check(CLI::Range(1, 256));
  app.add_option("--contexts", contexts_mode, "one: one io_context run by all threads; "
                 "per-thread: one io_context per thread")
      ->check(CLI::IsMember({"one", "per-thread"}));
  app.add_option("--block-permille", blocking.permille, "of every 1000 reads, this many sleep")
      ->check(CLI::Range(0, 1000));
  app.add_option("--block-ms", blocking.ms, "how long a blocking read sleeps (ms)");
  bool client_blocks = false;
  std::size_t message_size = 16;
  app.add_flag("--client-blocks", client_blocks, "the first byte of each --message-size message "
               "says what to do before echoing it: 0 nothing, 1 sleep, 2 compute (--block-ms)")
      ->excludes(app.get_option("--block-permille"));
  // A message must fit the session's buffer with room to read more.
  app.add_option("--message-size", message_size, "--client-blocks: the size of every message")
      ->check(CLI::Range(std::size_t{1}, std::size_t{8192}));
  CLI11_PARSE(app, argc, argv);
  if (client_blocks) blocking.message_size = message_size;
  try {
    const std::size_t n_contexts = contexts_mode == "one" ? 1 : threads;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (std::size_t i = 0; i < n_contexts; ++i) {
      // The concurrency hint tells Asio whether it may skip locking (one thread per context).
      const int hint = n_contexts == 1 ? static_cast<int>(threads) : 1;
      contexts.push_back(std::make_unique<asio::io_context>(hint));
    }
    Server server(contexts, tcp::endpoint(asio::ip::make_address(host), port), blocking);
    asio::signal_set signals(*contexts.front(), SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
      for (auto& context : contexts) context->stop();
    });
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& context : contexts) guards.push_back(asio::make_work_guard(*context));
    fmt::print("asio_echo listening on {}:{} ({} threads, {} io_context(s))\n", host, port, threads,
               n_contexts);
    std::fflush(stdout);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&contexts, t] { contexts[t % contexts.size()]->run(); });
    }
    for (std::thread& thread : pool) thread.join();
  } catch (const std::exception& e) {
    fmt::print(stderr, "asio_echo: {}\n", e.what());
    return 1;
  }
}
