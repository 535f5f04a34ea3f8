// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. EXEC holds the shards of every queued
// command's keys and of the WATCHed keys at once, so the transaction is atomic and the WATCH
// check cannot race with a writer.
#include <string>
#include <vector>

#include "lf/handlers/kv/command_request.h"

namespace lf {

void multi_command(CommandRequest& request) {
  if (request.session.in_transaction()) {
    return request.out.error("ERR MULTI calls can not be nested");
  }
  request.session.begin_transaction();
  request.out.ok();
}

void exec_command(CommandRequest& request) {
  KvSession& session = request.session;
  if (!session.in_transaction()) return request.out.error("ERR EXEC without MULTI");
  if (session.transaction_failed()) {
    session.end_transaction();
    session.unwatch_all();
    return request.out.error("EXECABORT Transaction discarded because of previous errors.");
  }
  // The queued commands' arguments as views, and the shards they need.
  std::vector<std::vector<std::string_view>> commands;
  std::vector<const CommandSpec*> specs;
  std::vector<std::size_t> shards;
  bool whole_keyspace = false;
  for (const KvSession::QueuedCommand& queued : session.queued()) {
    commands.emplace_back(queued.begin(), queued.end());
    specs.push_back(find_command(queued[0]));
    if (!add_command_shards(*specs.back(), commands.back(), request.store, shards)) {
      whole_keyspace = true;
    }
  }
  for (const std::string& key : session.watched()) shards.push_back(request.store.shard_index(key));
  {
    KvStore::Access db =
        whole_keyspace ? request.store.access_all() : request.store.access(std::move(shards));
    if (session.watched_key_changed()) {
      request.out.null_array();
    } else {
      request.out.array(commands.size());
      for (std::size_t i = 0; i < commands.size(); ++i) {
        CommandRequest inner{commands[i], request.store, db, session, request.out, specs[i]->name};
        specs[i]->run(inner);
      }
    }
  }
  // After the shards are released: unwatching locks them.
  session.end_transaction();
  session.unwatch_all();
}

void discard_command(CommandRequest& request) {
  if (!request.session.in_transaction()) return request.out.error("ERR DISCARD without MULTI");
  request.session.end_transaction();
  request.session.unwatch_all();
  request.out.ok();
}

void watch_command(CommandRequest& request) {
  if (request.session.in_transaction()) {
    return request.out.error("ERR WATCH inside MULTI is not allowed");
  }
  for (std::size_t i = 1; i < request.args.size(); ++i) {
    request.session.watch(request.store, request.args[i]);
  }
  request.out.ok();
}

void unwatch_command(CommandRequest& request) {
  // Queued in a transaction it does nothing: EXEC unwatches anyway, and must not be re-entered
  // while it holds the shards.
  if (!request.session.in_transaction()) request.session.unwatch_all();
  request.out.ok();
}

}  // namespace lf
