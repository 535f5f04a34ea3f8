// COMMAND, COMMAND COUNT, INFO, DOCS, LIST and GETKEYS, answered from the command table and
// Redis 7.0's metadata for its commands (command_meta.h), in Redis 7.0's reply shapes: maps are
// flat arrays of key and value (RESP2), flags simple strings, the rest bulk strings.
#include <string>
#include <vector>

#include "lf/handlers/kv/command_meta.h"
#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/glob_match.h"
#include "lf/handlers/kv/kv_commands.h"

namespace lf {
namespace {

void simple_words(RespWriter& out, MetaWords words) {
  out.array(words.size());
  for (const std::string_view word : words) out.simple(word);
}

void bulk_words(RespWriter& out, MetaWords words) {
  out.array(words.size());
  for (const std::string_view word : words) out.bulk(word);
}

void key_spec_entry(RespWriter& out, const KeySpecMeta& spec) {
  out.array(spec.notes.empty() ? 6 : 8);
  if (!spec.notes.empty()) {
    out.bulk("notes");
    out.bulk(spec.notes);
  }
  out.bulk("flags");
  simple_words(out, spec.flags);
  out.bulk("begin_search");
  out.array(4);
  out.bulk("type");
  out.bulk("index");
  out.bulk("spec");
  out.array(2);
  out.bulk("index");
  out.integer(spec.begin_index);
  out.bulk("find_keys");
  out.array(4);
  out.bulk("type");
  out.bulk("range");
  out.bulk("spec");
  out.array(6);
  out.bulk("lastkey");
  out.integer(spec.last_key);
  out.bulk("keystep");
  out.integer(spec.key_step);
  out.bulk("limit");
  out.integer(spec.limit);
}

// One COMMAND INFO entry: name, arity, flags, first key, last key, step, ACL categories, tips,
// key specifications, subcommands (entries of their own).
void info_entry(RespWriter& out, const CommandMeta& meta) {
  out.array(10);
  out.bulk(meta.name);
  out.integer(meta.arity);
  simple_words(out, meta.flags);
  out.integer(meta.first_key);
  out.integer(meta.last_key);
  out.integer(meta.key_step);
  simple_words(out, meta.acl_categories);
  bulk_words(out, meta.tips);
  out.array(meta.key_specs.size());
  for (const KeySpecMeta& spec : meta.key_specs) key_spec_entry(out, spec);
  out.array(meta.subcommands.size());
  for (const CommandMeta& sub : meta.subcommands) info_entry(out, sub);
}

// A map whose fields are written only when present: counts them first.
class OptionalFields {
 public:
  void add(bool present) { count_ += present ? 2 : 0; }
  [[nodiscard]] std::size_t count() const noexcept { return count_; }

 private:
  std::size_t count_ = 0;
};

void bulk_field(RespWriter& out, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  out.bulk(name);
  out.bulk(value);
}

void argument_entry(RespWriter& out, const ArgumentMeta& argument) {
  OptionalFields fields;
  fields.add(true);  // name
  fields.add(true);  // type
  fields.add(argument.key_spec_index >= 0);
  fields.add(!argument.token.empty());
  fields.add(!argument.since.empty());
  fields.add(!argument.deprecated_since.empty());
  fields.add(!argument.flags.empty());
  fields.add(!argument.arguments.empty());
  out.array(fields.count());
  out.bulk("name");
  out.bulk(argument.name);
  out.bulk("type");
  out.bulk(argument.type);
  if (argument.key_spec_index >= 0) {
    out.bulk("key_spec_index");
    out.integer(argument.key_spec_index);
  }
  bulk_field(out, "token", argument.token);
  bulk_field(out, "since", argument.since);
  bulk_field(out, "deprecated_since", argument.deprecated_since);
  if (!argument.flags.empty()) {
    out.bulk("flags");
    simple_words(out, argument.flags);
  }
  if (!argument.arguments.empty()) {
    out.bulk("arguments");
    out.array(argument.arguments.size());
    for (const ArgumentMeta& child : argument.arguments) argument_entry(out, child);
  }
}

// One COMMAND DOCS value: summary, since, group, complexity, then those of doc_flags,
// deprecated_since, replaced_by, history, arguments and subcommands the command has.
void docs_entry(RespWriter& out, const CommandMeta& meta) {
  OptionalFields fields;
  for (int i = 0; i < 4; ++i) fields.add(true);
  fields.add(!meta.doc_flags.empty());
  fields.add(!meta.deprecated_since.empty());
  fields.add(!meta.replaced_by.empty());
  fields.add(!meta.history.empty());
  fields.add(!meta.arguments.empty());
  fields.add(!meta.subcommands.empty());
  out.array(fields.count());
  out.bulk("summary");
  out.bulk(meta.summary);
  out.bulk("since");
  out.bulk(meta.since);
  out.bulk("group");
  out.bulk(meta.group);
  out.bulk("complexity");
  out.bulk(meta.complexity);
  if (!meta.doc_flags.empty()) {
    out.bulk("doc_flags");
    simple_words(out, meta.doc_flags);
  }
  bulk_field(out, "deprecated_since", meta.deprecated_since);
  bulk_field(out, "replaced_by", meta.replaced_by);
  if (!meta.history.empty()) {
    out.bulk("history");
    out.array(meta.history.size());
    for (const HistoryMeta& entry : meta.history) {
      out.array(2);
      out.bulk(entry.version);
      out.bulk(entry.change);
    }
  }
  if (!meta.arguments.empty()) {
    out.bulk("arguments");
    out.array(meta.arguments.size());
    for (const ArgumentMeta& argument : meta.arguments) argument_entry(out, argument);
  }
  if (!meta.subcommands.empty()) {
    out.bulk("subcommands");
    out.array(meta.subcommands.size() * 2);
    for (const CommandMeta& sub : meta.subcommands) {
      out.bulk(sub.name);
      docs_entry(out, sub);
    }
  }
}

// The metadata of every command in the table, in the table's order.
std::vector<const CommandMeta*> all_commands() {
  std::vector<const CommandMeta*> metas;
  for (const CommandSpec& spec : command_table()) {
    if (const CommandMeta* meta = find_command_meta(spec.name)) metas.push_back(meta);
  }
  return metas;
}

// COMMAND and COMMAND INFO [name...]: a name may be "parent|sub"; an unknown one gets a null.
void command_info(RespWriter& out, std::span<const std::string_view> names) {
  if (names.empty()) {
    const auto metas = all_commands();
    out.array(metas.size());
    for (const CommandMeta* meta : metas) info_entry(out, *meta);
    return;
  }
  out.array(names.size());
  for (const std::string_view name : names) {
    if (const CommandMeta* meta = find_command_meta(name)) {
      info_entry(out, *meta);
    } else {
      out.null();
    }
  }
}

// COMMAND DOCS [name...]: a map of name to documentation; unknown names are left out.
void command_docs(RespWriter& out, std::span<const std::string_view> names) {
  std::vector<const CommandMeta*> metas;
  if (names.empty()) metas = all_commands();
  for (const std::string_view name : names) {
    if (const CommandMeta* meta = find_command_meta(name)) metas.push_back(meta);
  }
  out.array(metas.size() * 2);
  for (const CommandMeta* meta : metas) {
    out.bulk(meta->name);
    docs_entry(out, *meta);
  }
}

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: commands and their
// subcommands ("config|get"). There are no modules here: that filter matches nothing.
void command_list(CommandRequest& request) {
  const auto& args = request.args;
  enum class Filter { kNone, kModule, kAclCategory, kPattern } filter = Filter::kNone;
  std::string_view argument;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::size_t more = args.size() - 1 - i;
    if (!equals_ignore_case(args[i], "filterby") || more != 2) {
      return request.out.error(kv_error::kSyntax);
    }
    const std::string_view type = args[i + 1];
    if (equals_ignore_case(type, "module")) {
      filter = Filter::kModule;
    } else if (equals_ignore_case(type, "aclcat")) {
      filter = Filter::kAclCategory;
    } else if (equals_ignore_case(type, "pattern")) {
      filter = Filter::kPattern;
    } else {
      return request.out.error(kv_error::kSyntax);
    }
    argument = args[i + 2];
    i += 2;
  }
  const auto listed = [&](const CommandMeta& meta) {
    switch (filter) {
      case Filter::kNone:
        return true;
      case Filter::kModule:
        return false;
      case Filter::kAclCategory:
        // Asked for without their '@' ("string"), in any case.
        for (const std::string_view name : meta.acl_categories) {
          if (equals_ignore_case(name.substr(1), argument)) return true;
        }
        return false;
      case Filter::kPattern:
        return glob_match(argument, meta.name, /*ignore_case=*/true);
    }
    return false;
  };
  std::vector<std::string_view> names;
  for (const CommandMeta* meta : all_commands()) {
    if (listed(*meta)) names.push_back(meta->name);
    for (const CommandMeta& sub : meta->subcommands) {
      if (listed(sub)) names.push_back(sub.name);
    }
  }
  request.out.array(names.size());
  for (const std::string_view name : names) request.out.bulk(name);
}

// COMMAND GETKEYS command arg [arg...]: the key arguments, by the command's key positions.
void command_getkeys(CommandRequest& request) {
  const auto& args = request.args;
  RespWriter& out = request.out;
  if (args.size() < 4) return reply_arity_error(out, "command|getkeys");
  const auto call = args.subspan(2);
  const CommandSpec* spec = find_command(call[0]);
  if (spec == nullptr) return out.error("ERR Invalid command specified");
  if (spec->first_key == 0) return out.error("ERR The command has no key arguments");
  const auto argc = static_cast<int>(call.size());
  if ((spec->arity > 0 && spec->arity != argc) || argc < -spec->arity) {
    return out.error("ERR Invalid number of arguments specified for command");
  }
  const auto keys = command_keys(*spec, call);
  out.array(keys.size());
  for (const std::string_view key : keys) out.bulk(key);
}

}  // namespace

void command_command(CommandRequest& request) {
  const auto& args = request.args;
  RespWriter& out = request.out;
  if (args.size() == 1) return command_info(out, {});
  const std::string_view sub = args[1];
  if (equals_ignore_case(sub, "count")) {
    if (args.size() != 2) return reply_arity_error(out, "command|count");
    return out.integer(static_cast<long long>(command_count()));
  }
  if (equals_ignore_case(sub, "info")) return command_info(out, args.subspan(2));
  if (equals_ignore_case(sub, "docs")) return command_docs(out, args.subspan(2));
  if (equals_ignore_case(sub, "list")) return command_list(request);
  if (equals_ignore_case(sub, "getkeys")) return command_getkeys(request);
  reply_unknown_subcommand(out, args[0], sub);
}

}  // namespace lf
