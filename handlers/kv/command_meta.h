// Internal to handlers/kv. CommandMeta: what COMMAND INFO and COMMAND DOCS say about a command
// (flags, ACL categories, tips, key specifications, subcommands, and the documentation's facts:
// version, group, complexity, arguments). The rows in command_meta.cc are Redis 7.0's metadata
// for each command of the command table, read from a running redis-server by
// command_meta_gen.py; the summaries and other sentences are our own. Constant: any thread.
#pragma once

#include <span>
#include <string_view>

namespace lf {

using MetaWords = std::span<const std::string_view>;

// A key specification (Redis 7): where a command's keys are and what it does to them. Every
// command here finds its keys the same way: they start at argument `begin_index` and run to
// `last_key` (negative: from the end), every `key_step`, at most count/`limit` of them (0: all).
struct KeySpecMeta {
  std::string_view notes;  // empty: none
  MetaWords flags;         // "RW", "access", ...
  int begin_index;
  int last_key;
  int key_step;
  int limit;
};

// One argument in COMMAND DOCS; a block or oneof has its own arguments.
struct ArgumentMeta {
  std::string_view name;
  std::string_view type;  // "key", "string", "integer", "pure-token", "oneof", "block", ...
  int key_spec_index;     // -1: none
  std::string_view token;
  std::string_view since;
  std::string_view deprecated_since;
  MetaWords flags;  // "optional", "multiple", "multiple_token"
  std::span<const ArgumentMeta> arguments;
};

struct HistoryMeta {
  std::string_view version;
  std::string_view change;
};

struct CommandMeta {
  std::string_view name;  // "get", "config|get"
  int arity;
  int first_key;
  int last_key;
  int key_step;
  MetaWords flags;           // "write", "readonly", "fast", ...
  MetaWords acl_categories;  // "@write", "@string", ...
  MetaWords tips;            // "nondeterministic_output", ...
  std::span<const KeySpecMeta> key_specs;
  std::span<const CommandMeta> subcommands;
  // COMMAND DOCS.
  std::string_view summary;
  std::string_view since;
  std::string_view group;
  std::string_view complexity;
  MetaWords doc_flags;  // "deprecated"
  std::string_view deprecated_since;
  std::string_view replaced_by;
  std::span<const HistoryMeta> history;
  std::span<const ArgumentMeta> arguments;
};

// Redis's metadata for the command named `name` ("get", or "config|get" for a subcommand; any
// case), or nullptr.
[[nodiscard]] const CommandMeta* find_command_meta(std::string_view name);

}  // namespace lf
