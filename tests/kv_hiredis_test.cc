// The key-value server with hiredis, the C client library most Redis clients wrap:
// redisCommand with binary-safe %b arguments, pipelining (redisAppendCommand N times, then
// redisGetReply N times), several threads of clients INCRementing shared keys, whose final
// counts must be exact, and the atomicity of multi-key commands and transactions against
// concurrent clients (keys on different shards, so per-shard locking alone would not do).

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/kv_server.h"

namespace lf {
namespace {

using test::KvServer;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Context connect(int port) {
  const timeval timeout{10, 0};
  Context context(redisConnectWithTimeout("127.0.0.1", port, timeout));
  EXPECT_NE(context, nullptr);
  if (context) EXPECT_EQ(context->err, 0) << context->errstr;
  return context;
}

template <typename... Args>
Reply command(redisContext* context, const char* format, Args... args) {
  return Reply(static_cast<redisReply*>(redisCommand(context, format, args...)));
}

Reply next_reply(redisContext* context) {
  void* reply = nullptr;
  if (redisGetReply(context, &reply) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(reply));
}

std::string text(const Reply& reply) {
  if (!reply) return "<no reply>";
  return std::string(reply->str, reply->len);
}

TEST(KvHiredis, Commands) {
  KvServer server;
  const Context context = connect(server.port());
  ASSERT_TRUE(context);
  auto reply = command(context.get(), "PING");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(text(reply), "PONG");

  const std::string value("binary\0value\r\n", 14);
  reply = command(context.get(), "SET %s %b", "key", value.data(), value.size());
  EXPECT_EQ(text(reply), "OK");
  reply = command(context.get(), "GET %s", "key");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, REDIS_REPLY_STRING);
  EXPECT_EQ(text(reply), value);

  reply = command(context.get(), "GET %s", "missing");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, REDIS_REPLY_NIL);

  reply = command(context.get(), "INCRBY %s %d", "n", 5);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(reply->integer, 5);

  reply = command(context.get(), "MSET a 1 b 2");
  EXPECT_EQ(text(reply), "OK");
  reply = command(context.get(), "MGET a missing b");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(reply->elements, 3u);
  EXPECT_EQ(std::string(reply->element[0]->str), "1");
  EXPECT_EQ(reply->element[1]->type, REDIS_REPLY_NIL);
  EXPECT_EQ(std::string(reply->element[2]->str), "2");

  reply = command(context.get(), "SET %s %s PX %d", "temp", "v", 100000);
  EXPECT_EQ(text(reply), "OK");
  reply = command(context.get(), "PTTL temp");
  ASSERT_TRUE(reply);
  EXPECT_GT(reply->integer, 99000);

  reply = command(context.get(), "NOSUCH x");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(text(reply), "ERR unknown command 'NOSUCH', with args beginning with: 'x' ");
}

TEST(KvHiredis, Pipelining) {
  KvServer server;
  const Context context = connect(server.port());
  ASSERT_TRUE(context);
  constexpr int kCommands = 10000;
  for (int i = 0; i < kCommands; ++i) {
    ASSERT_EQ(redisAppendCommand(context.get(), "SET key:%d %d", i, i), REDIS_OK);
    ASSERT_EQ(redisAppendCommand(context.get(), "INCR key:%d", i), REDIS_OK);
  }
  for (int i = 0; i < kCommands; ++i) {
    const Reply set = next_reply(context.get());
    ASSERT_TRUE(set);
    ASSERT_EQ(text(set), "OK");
    const Reply incr = next_reply(context.get());
    ASSERT_TRUE(incr);
    ASSERT_EQ(incr->type, REDIS_REPLY_INTEGER);
    ASSERT_EQ(incr->integer, i + 1);
  }
  EXPECT_EQ(server.store().size(), static_cast<std::size_t>(kCommands));
}

TEST(KvHiredis, ConcurrentIncrementsAreExact) {
  KvServer server;
  constexpr int kThreads = 8;
  constexpr int kRounds = 500;      // pipelined batches per thread
  constexpr int kBatch = 20;        // INCRs per batch, over kKeys keys
  constexpr int kKeys = 4;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const timeval timeout{10, 0};
      Context context(redisConnectWithTimeout("127.0.0.1", server.port(), timeout));
      if (!context || context->err != 0) {
        errors[static_cast<std::size_t>(t)] = "connect failed";
        return;
      }
      for (int round = 0; round < kRounds; ++round) {
        for (int i = 0; i < kBatch; ++i) {
          redisAppendCommand(context.get(), "INCR counter:%d", i % kKeys);
        }
        for (int i = 0; i < kBatch; ++i) {
          const Reply reply = next_reply(context.get());
          if (!reply || reply->type != REDIS_REPLY_INTEGER) {
            errors[static_cast<std::size_t>(t)] = "bad reply";
            return;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");
  const Context context = connect(server.port());
  ASSERT_TRUE(context);
  for (int key = 0; key < kKeys; ++key) {
    const Reply reply = command(context.get(), "GET counter:%d", key);
    EXPECT_EQ(text(reply), std::to_string(kThreads * kRounds * kBatch / kKeys)) << key;
  }
}

// Two keys that live on different shards of `store`.
std::pair<std::string, std::string> keys_on_two_shards(const KvStore& store) {
  for (int i = 0;; ++i) {
    std::string other = "b" + std::to_string(i);
    if (store.shard_index("a") != store.shard_index(other)) return {"a", other};
  }
}

// Runs `write` (one pipelined batch of commands and their replies) on its own connection until
// `read` has run `reads` times on another; `read` returns an error text or "".
template <typename Write, typename Read>
void race(int port, int reads, Write write, Read read) {
  std::atomic<bool> stop{false};
  std::string writer_error;
  std::thread writer([&] {
    const Context context = connect(port);
    for (long long round = 0; context && !stop.load(); ++round) {
      writer_error = write(context.get(), round);
      if (!writer_error.empty()) return;
    }
  });
  const Context context = connect(port);
  ASSERT_TRUE(context);
  std::string error;
  for (int i = 0; i < reads && error.empty(); ++i) error = read(context.get());
  stop = true;
  writer.join();
  EXPECT_EQ(writer_error, "");
  EXPECT_EQ(error, "") << "a reader saw a command half done";
}

// One reply per command appended, each checked by `ok`; an error text or "".
template <typename Ok>
std::string replies(redisContext* context, int count, Ok ok) {
  for (int i = 0; i < count; ++i) {
    const Reply reply = next_reply(context);
    if (!reply || !ok(reply.get())) return "bad reply to command " + std::to_string(i);
  }
  return "";
}

std::string element(const redisReply* array, std::size_t i) {
  const redisReply* item = array->element[i];
  return item->type == REDIS_REPLY_STRING ? std::string(item->str, item->len) : "<nil>";
}

// MGET used to read each key's shard separately while MSET locked them all: a reader could
// see a mix of two MSETs.
TEST(KvHiredis, MgetNeverSeesHalfAnMset) {
  KvServer server;
  const auto [a, b] = keys_on_two_shards(server.store());
  race(
      server.port(), 100000,
      [&](redisContext* context, long long round) {
        for (int i = 0; i < 8; ++i) {
          const std::string value = std::to_string(round * 8 + i);
          redisAppendCommand(context, "MSET %s %s %s %s", a.c_str(), value.c_str(), b.c_str(),
                             value.c_str());
        }
        return replies(context, 8, [](const redisReply* r) { return r->type == REDIS_REPLY_STATUS; });
      },
      [&](redisContext* context) -> std::string {
        const Reply reply = command(context, "MGET %s %s", a.c_str(), b.c_str());
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return "bad MGET";
        if (element(reply.get(), 0) != element(reply.get(), 1)) {
          return element(reply.get(), 0) + " != " + element(reply.get(), 1);
        }
        return "";
      });
}

// DEL of several keys, and EXISTS of several keys, are single steps too.
TEST(KvHiredis, MultiKeyDelAndRenameAreAtomic) {
  KvServer server;
  const auto [a, b] = keys_on_two_shards(server.store());
  race(
      server.port(), 20000,
      [&](redisContext* context, long long) {
        redisAppendCommand(context, "MSET %s 1 %s 1", a.c_str(), b.c_str());
        redisAppendCommand(context, "DEL %s %s", a.c_str(), b.c_str());
        return replies(context, 2, [](const redisReply* r) { return r->type != REDIS_REPLY_ERROR; });
      },
      [&](redisContext* context) -> std::string {
        const Reply reply = command(context, "EXISTS %s %s", a.c_str(), b.c_str());
        if (!reply || reply->type != REDIS_REPLY_INTEGER) return "bad EXISTS";
        return reply->integer != 1 ? "" : "EXISTS 1: DEL was half done";
      });
  // And RENAME never shows the key in both places, or in neither.
  server.store().set(a, "v", {});
  race(
      server.port(), 20000,
      [&](redisContext* context, long long) {
        redisAppendCommand(context, "RENAME %s %s", a.c_str(), b.c_str());
        redisAppendCommand(context, "RENAME %s %s", b.c_str(), a.c_str());
        return replies(context, 2, [](const redisReply* r) { return r->type == REDIS_REPLY_STATUS; });
      },
      [&](redisContext* context) -> std::string {
        const Reply reply = command(context, "EXISTS %s %s", a.c_str(), b.c_str());
        if (!reply || reply->type != REDIS_REPLY_INTEGER) return "bad EXISTS";
        return reply->integer == 1 ? "" : "EXISTS " + std::to_string(reply->integer);
      });
}

TEST(KvHiredis, TransactionsAreAtomic) {
  KvServer server;
  const auto [a, b] = keys_on_two_shards(server.store());
  race(
      server.port(), 20000,
      [&](redisContext* context, long long) {
        redisAppendCommand(context, "MULTI");
        redisAppendCommand(context, "INCR %s", a.c_str());
        redisAppendCommand(context, "INCR %s", b.c_str());
        redisAppendCommand(context, "EXEC");
        return replies(context, 4, [](const redisReply* r) { return r->type != REDIS_REPLY_ERROR; });
      },
      [&](redisContext* context) -> std::string {
        const Reply reply = command(context, "MGET %s %s", a.c_str(), b.c_str());
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return "bad MGET";
        if (element(reply.get(), 0) != element(reply.get(), 1)) {
          return element(reply.get(), 0) + " != " + element(reply.get(), 1);
        }
        return "";
      });
}

TEST(KvHiredis, WatchedKeyChangedByAnotherClientAbortsExec) {
  KvServer server;
  const Context first = connect(server.port());
  const Context second = connect(server.port());
  ASSERT_TRUE(first && second);
  EXPECT_EQ(text(command(first.get(), "WATCH k")), "OK");
  EXPECT_EQ(text(command(second.get(), "SET k theirs")), "OK");
  EXPECT_EQ(text(command(first.get(), "MULTI")), "OK");
  EXPECT_EQ(text(command(first.get(), "SET k mine")), "QUEUED");
  Reply reply = command(first.get(), "EXEC");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, REDIS_REPLY_NIL);
  EXPECT_EQ(text(command(first.get(), "GET k")), "theirs");
  // Unchanged, it goes through; and EXEC forgot the watch.
  EXPECT_EQ(text(command(first.get(), "WATCH k")), "OK");
  EXPECT_EQ(text(command(first.get(), "MULTI")), "OK");
  EXPECT_EQ(text(command(first.get(), "SET k mine")), "QUEUED");
  reply = command(first.get(), "EXEC");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(text(command(first.get(), "GET k")), "mine");
  EXPECT_EQ(text(command(second.get(), "SET k later")), "OK");
  EXPECT_EQ(text(command(first.get(), "MULTI")), "OK");
  EXPECT_EQ(text(command(first.get(), "GET k")), "QUEUED");
  reply = command(first.get(), "EXEC");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY);
  // A client that disconnects while watching leaves nothing behind that others trip over.
  {
    const Context leaving = connect(server.port());
    EXPECT_EQ(text(command(leaving.get(), "WATCH k")), "OK");
  }
  EXPECT_EQ(text(command(second.get(), "SET k after")), "OK");
}

}  // namespace
}  // namespace lf
