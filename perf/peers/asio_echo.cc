// asio_echo: the Boost.Asio peers of the perf suite (docs/perf.md). --contexts one: one io_context run
// by --threads threads; --contexts per-thread: --threads io_contexts with one thread each, the
// acceptor handing connections out round-robin. The session is the usual read_some / write loop
// (one operation outstanding per connection, so no strand is needed). --block-permille/--block-ms
// make X of every 1000 reads sleep in the handler, for the mixed workload.
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Blocking {
  unsigned permille = 0;
  unsigned ms = 2;
  void maybe_block() const {
    if (permille == 0) return;
    thread_local std::uint64_t count = 0;
    // Spread evenly: block whenever count * permille / 1000 steps up.
    const std::uint64_t before = count++ * permille / 1000;
    if (count * permille / 1000 != before) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
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
  void read() {
    socket_.async_read_some(asio::buffer(data_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                              if (ec) return;
                              self->blocking_.maybe_block();
                              self->write(n);
                            });
  }

  void write(std::size_t n) {
    asio::async_write(socket_, asio::buffer(data_, n),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (!ec) self->read();
                      });
  }

  tcp::socket socket_;
  const Blocking& blocking_;
  std::array<char, 16384> data_{};
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
  CLI11_PARSE(app, argc, argv);
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
