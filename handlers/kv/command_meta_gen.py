#!/usr/bin/env python3
"""Writes handlers/kv/command_meta.cc: the COMMAND INFO / COMMAND DOCS metadata of every command in
lf-kv's command table, as a running redis-server 7.0 reports it.

    redis-server --port 6399 --save '' --appendonly no &
    python3 handlers/kv/command_meta_gen.py 6399 > handlers/kv/command_meta.cc

Facts about the protocol (arity, flags, ACL categories, tips, key specifications, subcommands,
versions, groups, complexities, argument names, types and tokens) come from the server. The
sentences (summaries, history entries, key specification notes, replacements) are lf's own, from
the tables below: the script stops if the server has one that is not covered here.
"""
import re
import socket
import sys

# lf-kv's commands, as in kv_commands.cc's table (kv_test checks that each has its metadata).
COMMANDS = """ping echo get set setnx setex psetex getset getdel getex incr decr incrby decrby
incrbyfloat mget mset msetnx append strlen getrange substr setrange del unlink exists touch type
expire pexpire expireat pexpireat expiretime pexpiretime ttl pttl persist keys scan randomkey rename
renamenx copy dbsize flushall flushdb hset hmset hsetnx hget hmget hdel hgetall hkeys hvals hlen
hexists hstrlen hincrby hincrbyfloat hscan multi exec discard watch unwatch select command config
client quit hello info time""".split()

SUMMARIES = {
    "ping": "Checks that the server answers",
    "echo": "Replies with its argument",
    "get": "Reads a string key",
    "set": "Stores a string under a key, with optional conditions and expiry",
    "setnx": "Stores a string unless the key is already there",
    "setex": "Stores a string with a time to live in seconds",
    "psetex": "Stores a string with a time to live in milliseconds",
    "getset": "Stores a string and replies with the value it replaced",
    "getdel": "Reads a string key and removes it",
    "getex": "Reads a string key and may change its time to live",
    "incr": "Adds one to an integer string",
    "decr": "Subtracts one from an integer string",
    "incrby": "Adds an integer to an integer string",
    "decrby": "Subtracts an integer from an integer string",
    "incrbyfloat": "Adds a floating point number to a numeric string",
    "mget": "Reads several string keys at once",
    "mset": "Stores several strings at once",
    "msetnx": "Stores several strings at once, only when none of the keys exists",
    "append": "Adds bytes to the end of a string",
    "strlen": "Replies with a string's length in bytes",
    "getrange": "Reads a byte range of a string",
    "substr": "Reads a byte range of a string (old name of GETRANGE)",
    "setrange": "Overwrites a string's bytes from an offset on",
    "del": "Removes keys",
    "unlink": "Removes keys, freeing their memory later",
    "exists": "Counts how many of the given keys are present",
    "touch": "Marks keys as accessed; replies with how many exist",
    "type": "Names the type of the value under a key",
    "expire": "Gives a key a time to live in seconds",
    "pexpire": "Gives a key a time to live in milliseconds",
    "expireat": "Makes a key expire at a Unix time in seconds",
    "pexpireat": "Makes a key expire at a Unix time in milliseconds",
    "expiretime": "Replies with the Unix time in seconds at which a key expires",
    "pexpiretime": "Replies with the Unix time in milliseconds at which a key expires",
    "ttl": "Replies with a key's remaining time to live in seconds",
    "pttl": "Replies with a key's remaining time to live in milliseconds",
    "persist": "Makes a key permanent again",
    "keys": "Lists the keys that match a glob pattern",
    "scan": "Walks the keyspace a few keys per call with a cursor",
    "randomkey": "Replies with a key picked at random",
    "rename": "Gives a key a new name",
    "renamenx": "Gives a key a new name unless that name is taken",
    "copy": "Duplicates a key's value under another key",
    "dbsize": "Counts the keys of the database",
    "flushall": "Empties every database",
    "flushdb": "Empties the database in use",
    "hset": "Stores one or more fields of a hash",
    "hmset": "Stores several fields of a hash (older form of HSET)",
    "hsetnx": "Stores a hash field unless it is already there",
    "hget": "Reads one field of a hash",
    "hmget": "Reads several fields of a hash",
    "hdel": "Removes fields from a hash",
    "hgetall": "Replies with every field and value of a hash",
    "hkeys": "Replies with the field names of a hash",
    "hvals": "Replies with the values of a hash",
    "hlen": "Counts the fields of a hash",
    "hexists": "Tells whether a hash has a field",
    "hstrlen": "Replies with the length of a hash field's value",
    "hincrby": "Adds an integer to a hash field",
    "hincrbyfloat": "Adds a floating point number to a hash field",
    "hscan": "Walks a hash's fields and values with a cursor",
    "multi": "Opens a transaction: later commands are queued",
    "exec": "Runs the queued commands of a transaction",
    "discard": "Drops the queued commands of a transaction",
    "watch": "Makes the next transaction fail if any of these keys changes",
    "unwatch": "Stops watching every watched key",
    "select": "Switches the connection to another database",
    "command": "Describes the server's commands",
    "command|count": "Counts the server's commands",
    "command|getkeys": "Finds the key arguments of a command line",
    "command|getkeysandflags": "Finds the key arguments of a command line and how it uses them",
    "command|docs": "Describes commands' arguments and history",
    "command|info": "Describes the given commands, or all of them",
    "command|list": "Lists command names, optionally filtered",
    "command|help": "Explains the subcommands",
    "config": "Reads and changes the server's settings",
    "config|rewrite": "Writes the settings in use back to the configuration file",
    "config|get": "Reads settings whose names match patterns",
    "config|resetstat": "Sets INFO's statistics back to zero",
    "config|help": "Explains the subcommands",
    "config|set": "Changes settings",
    "client": "Inspects and manages client connections",
    "client|no-evict": "Exempts this connection from client eviction, or not",
    "client|id": "Replies with this connection's id",
    "client|kill": "Closes the connections that match filters",
    "client|tracking": "Turns client side caching notifications on or off",
    "client|caching": "Says whether the next command's keys are to be tracked",
    "client|setname": "Names this connection",
    "client|reply": "Turns replies to this connection on, off, or off for one command",
    "client|getredir": "Replies with the client that receives this one's tracking messages",
    "client|unblock": "Wakes another client from a blocking command",
    "client|help": "Explains the subcommands",
    "client|pause": "Holds back commands from clients for a while",
    "client|trackinginfo": "Describes this connection's client side caching",
    "client|getname": "Replies with this connection's name",
    "client|unpause": "Lets paused clients go on",
    "client|info": "Describes this connection",
    "client|list": "Describes the connected clients",
    "quit": "Closes the connection after replying",
    "hello": "Chooses the protocol and describes the server and the connection",
    "info": "Reports the server's state and statistics by section",
    "time": "Replies with the server's clock",
}

# (command, version, change), in the order the server lists them.
HISTORY = {
    ("set", "2.6.12"): "EX, PX, NX and XX options.",
    ("set", "6.0.0"): "KEEPTTL option.",
    ("set", "6.2.0"): "GET, EXAT and PXAT options.",
    ("set", "7.0.0"): "NX may be combined with GET.",
    ("exists", "3.0.3"): "More than one key.",
    ("expire", "7.0.0"): "NX, XX, GT and LT options.",
    ("pexpire", "7.0.0"): "NX, XX, GT and LT options.",
    ("expireat", "7.0.0"): "NX, XX, GT and LT options.",
    ("pexpireat", "7.0.0"): "NX, XX, GT and LT options.",
    ("ttl", "2.8.0"): "Replies -2 for a missing key.",
    ("pttl", "2.8.0"): "Replies -2 for a missing key.",
    ("scan", "6.0.0"): "TYPE option.",
    ("renamenx", "3.2.0"): "Renaming a key to its own name is no longer an error.",
    ("flushall", "4.0.0"): "ASYNC option.",
    ("flushall", "6.2.0"): "SYNC option.",
    ("flushdb", "4.0.0"): "ASYNC option.",
    ("flushdb", "6.2.0"): "SYNC option.",
    ("hset", "4.0.0"): "More than one field and value.",
    ("hdel", "2.4.0"): "More than one field.",
    ("hello", "6.2.0"): "The protocol version may be left out; then the reply describes the "
                        "connection as it is.",
    ("info", "7.0.0"): "More than one section.",
    ("command|info", "7.0.0"): "No argument: every command.",
    ("config|get", "7.0.0"): "More than one pattern.",
    ("config|set", "7.0.0"): "More than one parameter.",
    ("client|kill", "2.8.12", 0): "Filters given as option and value.",
    ("client|kill", "2.8.12", 1): "ID filter.",
    ("client|kill", "3.2.0"): "TYPE master.",
    ("client|kill", "5.0.0"): "TYPE replica (slave still accepted).",
    ("client|kill", "6.2.0"): "LADDR filter.",
    ("client|pause", "6.2.0"): "WRITE mode.",
    ("client|list", "2.8.12"): "id field.",
    ("client|list", "5.0.0"): "TYPE filter.",
    ("client|list", "6.0.0"): "user field.",
    ("client|list", "6.2.0"): "argv-mem, tot-mem, laddr and redir fields; ID filter.",
    ("client|list", "7.0.0"): "resp, multi-mem, rbs and rbp fields.",
    ("client|list", "7.0.3"): "ssub field.",
}

# Key specification notes, by command and key specification number.
NOTES = {
    ("set", 0): "Writes the key; reads it too with GET.",
    ("getex", 0): "Reads the key and may change its expiry.",
}

REPLACED_BY = {
    "getset": "SET with GET",
    "substr": "GETRANGE",
    "hmset": "HSET",
}


def read_reply(stream):
    line = stream.readline()[:-2]
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        if int(rest) < 0:
            return None
        return stream.read(int(rest) + 2)[:-2].decode()
    if kind == b"*":
        return None if int(rest) < 0 else [read_reply(stream) for _ in range(int(rest))]
    raise RuntimeError("unexpected reply line %r" % line)


def call(connection, stream, *args):
    request = b"*%d\r\n" % len(args)
    for arg in args:
        request += b"$%d\r\n%s\r\n" % (len(arg), arg.encode())
    connection.sendall(request)
    return read_reply(stream)


def as_map(pairs):
    return dict(zip(pairs[::2], pairs[1::2]))


def quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def identifier(name):
    return re.sub(r"[^a-z0-9]", "_", name.lower())


class Writer:
    """Emits named constant arrays, children before the rows that point at them."""

    def __init__(self):
        self.lines = []
        self.count = 0
        self.word_lists = {}  # the same list of words is written once

    def array(self, kind, prefix, rows):
        if not rows:
            return "{}"
        self.count += 1
        name = "k%s%d" % (prefix, self.count)
        self.lines.append("constexpr %s %s[] = {" % (kind, name))
        self.lines.extend("    %s," % row for row in rows)
        self.lines.append("};")
        return name

    def words(self, words):
        if tuple(words) not in self.word_lists:
            self.word_lists[tuple(words)] = self.array("std::string_view", "Words",
                                                       [quoted(w) for w in words])
        return self.word_lists[tuple(words)]

    def arguments(self, arguments):
        rows = []
        for argument in arguments:
            fields = as_map(argument)
            unknown = set(fields) - {"name", "type", "key_spec_index", "token", "since",
                                     "deprecated_since", "flags", "arguments"}
            assert not unknown, unknown
            children = self.arguments(fields.get("arguments", []))
            rows.append("{%s, %s, %d, %s, %s, %s, %s, %s}" % (
                quoted(fields["name"]), quoted(fields["type"]), fields.get("key_spec_index", -1),
                quoted(fields.get("token", "")), quoted(fields.get("since", "")),
                quoted(fields.get("deprecated_since", "")), self.words(fields.get("flags", [])),
                children))
        return self.array("ArgumentMeta", "Arguments", rows)

    def key_specs(self, command, specs):
        rows = []
        for number, spec in enumerate(specs):
            fields = as_map(spec)
            begin, find = as_map(fields["begin_search"]), as_map(fields["find_keys"])
            assert begin["type"] == "index" and find["type"] == "range", (command, fields)
            begin, find = as_map(begin["spec"]), as_map(find["spec"])
            notes = NOTES[(command, number)] if "notes" in fields else ""
            rows.append("{%s, %s, %d, %d, %d, %d}" % (
                quoted(notes), self.words(fields["flags"]), begin["index"], find["lastkey"],
                find["keystep"], find["limit"]))
        return self.array("KeySpecMeta", "KeySpecs", rows)

    def history(self, command, entries):
        rows = []
        versions = [version for version, _ in entries]
        for number, version in enumerate(versions):
            # A version listed twice (client|kill 2.8.12) is told apart by its place.
            key = (command, version)
            if versions.count(version) > 1:
                key += (versions[:number].count(version),)
            rows.append("{%s, %s}" % (quoted(version), quoted(HISTORY[key])))
        return self.array("HistoryMeta", "History", rows)

    def command(self, info, docs):
        name = info[0]
        doc = as_map(docs)
        unknown = set(doc) - {"summary", "since", "group", "complexity", "doc_flags",
                              "deprecated_since", "replaced_by", "history", "arguments",
                              "subcommands"}
        assert not unknown, unknown
        sub_docs = as_map(doc.get("subcommands", []))
        subcommands = [self.command(sub, sub_docs[sub[0]]) for sub in info[9]]
        return "{%s, %d, %d, %d, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s}" % (
            quoted(name), info[1], info[3], info[4], info[5], self.words(info[2]),
            self.words(info[6]), self.words(info[7]), self.key_specs(name, info[8]),
            self.array("CommandMeta", "Subcommands", subcommands), quoted(SUMMARIES[name]),
            quoted(doc["since"]), quoted(doc["group"]), quoted(doc["complexity"]),
            self.words(doc.get("doc_flags", [])), quoted(doc.get("deprecated_since", "")),
            quoted(REPLACED_BY[name] if "replaced_by" in doc else ""),
            self.history(name, doc.get("history", [])), self.arguments(doc.get("arguments", [])))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    connection = socket.create_connection(("127.0.0.1", port))
    stream = connection.makefile("rb")
    version = as_map(call(connection, stream, "HELLO", "2"))["version"]
    assert version.startswith("7.0."), version
    infos = call(connection, stream, "COMMAND", "INFO", *COMMANDS)
    docs = as_map(call(connection, stream, "COMMAND", "DOCS", *COMMANDS))
    writer = Writer()
    rows = [writer.command(info, docs[info[0]]) for info in infos]
    print("// Generated by handlers/kv/command_meta_gen.py from redis-server %s: do not edit; edit"
          % version)
    print("// the script's tables and run it again. Redis's metadata for lf-kv's commands (see")
    print("// command_meta.h); the sentences are lf's own.")
    print('#include "lf/handlers/kv/command_meta.h"\n')
    print("#include <algorithm>")
    print("#include <cctype>")
    print("#include <string>\n")
    print("namespace lf {")
    print("namespace {\n")
    print("// clang-format off")
    print("\n".join(writer.lines))
    print("constexpr CommandMeta kCommandMeta[] = {")
    print("\n".join("    %s," % row for row in rows))
    print("};")
    print("// clang-format on\n")
    print("}  // namespace\n")
    print("""const CommandMeta* find_command_meta(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  const std::string_view parent = std::string_view(lower).substr(0, lower.find('|'));
  for (const CommandMeta& meta : kCommandMeta) {
    if (meta.name != parent) continue;
    if (parent.size() == lower.size()) return &meta;
    for (const CommandMeta& sub : meta.subcommands) {
      if (sub.name == lower) return &sub;
    }
    return nullptr;
  }
  return nullptr;
}
""")
    print("}  // namespace lf")


if __name__ == "__main__":
    main()
