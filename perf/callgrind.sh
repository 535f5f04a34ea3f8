#!/usr/bin/env bash
# User-space instructions per echoed message of an echo server under valgrind --tool=callgrind:
# nearly the same on every run (within about 2% with one thread, 10% with several), so it is the
# stable evidence on a noisy machine where timings drift by 10-30%.
# The perf suite runs it for every lf model and both peers (perf/run.sh --only callgrind).
#
#   perf/callgrind.sh BUILD_DIR [MODEL] [THREADS] [CONNECTIONS] [SIZE]
#   perf/callgrind.sh build/release lf 1 20 16
#   perf/callgrind.sh BUILD_DIR [CONNECTIONS] [SIZE] -- SERVER [ARG...]
#   perf/callgrind.sh build/release 20 16 -- build/release/perf/asio_echo --port {port} --threads 2
#
# The first form measures BUILD_DIR/apps/lf-echo --model MODEL --threads THREADS (default lf, 1);
# the second any server command, {port} in its arguments standing for the port it must listen on
# at 127.0.0.1. CONNECTIONS defaults to 20, SIZE to 16 (bytes per message).
#
# The server runs twice under callgrind, with a 2 s and a 6 s load (BUILD_DIR/perf/loadgen, no
# warm-up); the difference of the two instruction totals divided by the difference of the echoed
# messages is the cost of one message, start-up and shutdown cancelled out. With 2 CPUs or more
# the server is pinned to core 0 and loadgen to core 1, as in the suite. The server is stopped with
# SIGINT, its default action restored first (bash starts background jobs with SIGINT ignored), so
# a server without a handler for it (perf/epoll_echo) dies of it and callgrind still writes its
# totals. Prints one JSON line.
set -euo pipefail
usage="usage: perf/callgrind.sh BUILD_DIR [MODEL] [THREADS] [CONNECTIONS] [SIZE]
       perf/callgrind.sh BUILD_DIR [CONNECTIONS] [SIZE] -- SERVER [ARG...]"
if [ $# -lt 1 ]; then echo "$usage" >&2; exit 2; fi
build=$1
shift
short_s=2
long_s=6
model="" threads=""
separator=false
for arg in "$@"; do
  if [ "$arg" = -- ]; then separator=true; fi
done
if $separator; then
  numbers=()
  while [ "$1" != -- ]; do numbers+=("$1"); shift; done
  shift
  server=("$@")
  if [ ${#numbers[@]} -gt 2 ] || [ ${#server[@]} -eq 0 ]; then echo "$usage" >&2; exit 2; fi
  connections=${numbers[0]:-20}
  size=${numbers[1]:-16}
else
  model=${1:-lf}
  threads=${2:-1}
  connections=${3:-20}
  size=${4:-16}
  server=("$build/apps/lf-echo" --host 127.0.0.1 --port '{port}' --threads "$threads" --model "$model"
          --log-level warn)
fi
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }

server_pin=() load_pin=()
if [ "$(nproc)" -ge 2 ]; then
  server_pin=(taskset -c 0)
  load_pin=(taskset -c 1)
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Exits with the server's last words (its stderr, without valgrind's lines) and then the message
# (last, so that a caller's tail shows it).
fail() {
  grep -v '^==[0-9]*==' "$work/valgrind.log" 2>/dev/null | tail -n 5 >&2 || true
  echo "callgrind.sh: $1" >&2
  exit 1
}

# Sends `signal` to the server and waits up to `seconds` for it to exit; true if it did.
stop() {
  local signal=$1 seconds=$2
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((seconds * 10))); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" || true; pid=""; return 0; }
    sleep 0.1
  done
  return 1
}

# One run of `seconds` of load: sets instructions and messages.
measure() {
  local seconds=$1 port out arg
  out="$work/callgrind.$seconds"
  # A port nothing uses now, chosen by the kernel (a random one could be the local port of a
  # connection another workload left in TIME_WAIT, and the server's bind would fail).
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local argv=()
  for arg in "${server[@]}"; do argv+=("${arg//\{port\}/$port}"); done
  "${server_pin[@]}" env --default-signal=INT valgrind --tool=callgrind --callgrind-out-file="$out" \
    "${argv[@]}" >/dev/null 2>"$work/valgrind.log" &
  pid=$!
  # valgrind starts slowly: wait up to 30 s until the port answers.
  local tries=300
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || fail "the server exited before it listened on port $port"
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || fail "the server did not listen on port $port within 30 s"
    sleep 0.1
  done
  messages=$("${load_pin[@]}" "$build/perf/loadgen" --host 127.0.0.1 --port "$port" \
    -c "$connections" -s "$size" -d "$seconds" -w 0 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')
  if ! stop INT 30; then
    echo "callgrind.sh: the server did not stop on SIGINT; sending SIGTERM" >&2
    stop TERM 30 || fail "the server did not stop on SIGTERM either"
  fi
  instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$out" 2>/dev/null || true)
  [ -n "$instructions" ] || fail "callgrind wrote no totals to $out"
}

measure "$short_s"
short_ir=$instructions short_msgs=$messages
measure "$long_s"
long_ir=$instructions long_msgs=$messages
python3 - "$model" "$threads" "$connections" "$size" "$short_s" "$long_s" "$short_ir" \
  "$short_msgs" "$long_ir" "$long_msgs" "${server[@]}" <<'EOF'
import json, shlex, sys
model, threads, connections, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
short_s, long_s, short_ir, short_msgs, long_ir, long_msgs = map(int, sys.argv[5:11])
per_message = (long_ir - short_ir) / max(1, long_msgs - short_msgs)
result = {"workload": "callgrind", "command": shlex.join(sys.argv[11:])}
if model:
    result.update({"model": model, "threads": int(threads)})
result.update({"connections": connections, "size": size, "load_s": [short_s, long_s],
               "messages": long_msgs - short_msgs, "instructions": long_ir - short_ir,
               "instructions_per_message": round(per_message, 1)})
print(json.dumps(result))
EOF
