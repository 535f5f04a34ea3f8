#!/usr/bin/env bash
# Smoke test of the perf suite's load path (no timing assertion): loadgen drives lf-echo, the raw
# epoll echo and the Asio echo for ~2 s each and must report zero errors and a non-zero message
# count; against lf-timestamp (which answers with something else) it must fail. With
# --block-permille (the mixed workloads) its JSON must report the victims and the blocked messages
# apart, against lf-echo and the Asio echo with --client-blocks; against a server that does not
# block the marked messages (no --client-blocks) it must fail.
# Usage: loadgen_smoke.sh LOADGEN LF_ECHO EPOLL_ECHO ASIO_ECHO LF_TIMESTAMP
set -euo pipefail
loadgen=$1
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# Starts "$@" on a free port below the ephemeral range; sets $pid and $port.
start_server() {
  for _ in 1 2 3 4 5 6 7 8; do
    port=$(( 20000 + RANDOM % 12000 ))
    "$@" --host 127.0.0.1 --port "$port" >"$work/out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      grep -q listening "$work/out" && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "could not start $*" >&2
  cat "$work/out" >&2
  return 1
}

stop_server() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

# loadgen must succeed, with errors == 0 and messages > 0 in its JSON.
expect_clean_run() {
  local name=$1; shift
  if ! "$loadgen" --port "$port" "$@" >"$work/result.json" 2>"$work/err" ||
     ! grep -q '"errors":0' "$work/result.json" ||
     grep -q '"messages":0[,}]' "$work/result.json"; then
    echo "$name $*: failed: $(cat "$work/result.json" "$work/err")" >&2
    echo "server output: $(cat "$work/out")" >&2
    return 1
  fi
  echo "$name $*: $(cat "$work/result.json")"
}

# As expect_clean_run, and the JSON must have the victims' and the blocked messages' figures.
expect_victims() {
  expect_clean_run "$@"
  for field in '"victims":{"count":' '"blocked":{"count":' '"p99":' '"block":{'; do
    if ! grep -q "$field" "$work/result.json"; then
      echo "$1: no $field in $(cat "$work/result.json")" >&2
      return 1
    fi
  done
  if grep -q '"victims":{"count":0,' "$work/result.json"; then
    echo "$1: no victim was measured" >&2
    return 1
  fi
}

start_server "$2" --threads 2
expect_clean_run lf-echo --connections 20 --depth 2 --size 16 --duration 1.5 --warmup 0.3
expect_clean_run lf-echo --connections 4 --size 65536 --duration 0.5 --warmup 0.1 --threads 2
expect_clean_run lf-echo --connections 50 --idle --duration 0.2 --rss-pid "$pid"
# This server echoes marked messages at once: loadgen must notice that they did not block.
if "$loadgen" --port "$port" --connections 4 --size 16 --duration 0.5 --warmup 0.1 \
     --block-permille 100 --block-ms 50 >"$work/result.json" 2>"$work/err"; then
  echo "loadgen accepted marked messages that did not block: $(cat "$work/result.json")" >&2
  exit 1
fi
echo "without --client-blocks, loadgen failed as it should: $(cat "$work/err")"
stop_server

start_server "$2" --threads 4 --client-blocks --message-size 16 --block-ms 2
expect_victims lf-echo --connections 10 --size 16 --duration 1 --warmup 0.2 \
  --block-permille 20 --block-ms 2
expect_victims lf-echo --connections 10 --depth 3 --size 16 --duration 0.5 --warmup 0.1 \
  --block-permille 20 --block-ms 2 --block-kind compute
stop_server

start_server "$3" --threads 1
expect_clean_run epoll_echo --connections 20 --size 4096 --duration 0.5 --warmup 0.1
stop_server

start_server "$4" --threads 2 --contexts per-thread
expect_clean_run asio_echo --connections 20 --size 4096 --duration 0.5 --warmup 0.1
stop_server

start_server "$4" --threads 2 --client-blocks --message-size 16 --block-ms 2
expect_victims asio_echo --connections 10 --size 16 --duration 0.5 --warmup 0.1 \
  --block-permille 20 --block-ms 2
stop_server

start_server "$5" --threads 1
if "$loadgen" --port "$port" --connections 2 --size 16 --duration 0.5 --warmup 0 >"$work/result.json" 2>"$work/err"; then
  echo "loadgen accepted a server that does not echo: $(cat "$work/result.json")" >&2
  exit 1
fi
echo "against lf-timestamp, loadgen failed as it should: $(cat "$work/err")"
stop_server
echo "loadgen smoke test passed"
