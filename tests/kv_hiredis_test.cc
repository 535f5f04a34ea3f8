// The key-value server with hiredis, the C client library most Redis clients wrap:
// redisCommand with binary-safe %b arguments, pipelining (redisAppendCommand N times, then
// redisGetReply N times), and several threads of clients INCRementing shared keys, whose final
// counts must be exact.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <thread>
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

}  // namespace
}  // namespace lf
