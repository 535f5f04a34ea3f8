#!/usr/bin/env bash
# User-space instructions per echoed message of lf-echo under valgrind --tool=callgrind: the same
# on every run, so it is the stable evidence on a noisy machine where timings drift.
#
#   perf/callgrind.sh BUILD_DIR [MODEL] [THREADS] [CONNECTIONS] [SIZE]
#   perf/callgrind.sh build/release lf 1 20 16
#
# The server runs twice under callgrind, with a short and a long load (loadgen, no warm-up); the
# difference of the two instruction totals divided by the difference of the echoed messages is
# the cost of one message, start-up and shutdown cancelled out. Prints one JSON line.
set -euo pipefail
build=${1:?usage: perf/callgrind.sh BUILD_DIR [MODEL] [THREADS] [CONNECTIONS] [SIZE]}
model=${2:-lf}
threads=${3:-1}
connections=${4:-20}
size=${5:-16}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One run: prints "<instructions> <messages>".
measure() {
  local seconds=$1 port out pid messages
  out="$work/callgrind.$seconds"
  port=$((20000 + RANDOM % 20000))
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$build/apps/lf-echo" --host 127.0.0.1 --port "$port" --threads "$threads" --model "$model" \
    --log-level warn >/dev/null 2>"$work/valgrind.log" &
  pid=$!
  # valgrind starts slowly: wait until the port answers.
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  messages=$("$build/perf/loadgen" --host 127.0.0.1 --port "$port" -c "$connections" -s "$size" \
    -d "$seconds" -w 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')
  kill -INT "$pid"
  wait "$pid" || true
  local total
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  echo "$total $messages"
}

read -r short_ir short_msgs < <(measure 2)
read -r long_ir long_msgs < <(measure 6)
python3 - "$model" "$threads" "$connections" "$size" "$short_ir" "$short_msgs" "$long_ir" \
  "$long_msgs" <<'EOF'
import json, sys
model, threads, connections, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
short_ir, short_msgs, long_ir, long_msgs = map(int, sys.argv[5:9])
per_message = (long_ir - short_ir) / max(1, long_msgs - short_msgs)
print(json.dumps({"workload": "callgrind", "model": model, "threads": threads,
                  "connections": connections, "size": size,
                  "messages": long_msgs - short_msgs,
                  "instructions_per_message": round(per_message, 1)}))
EOF
