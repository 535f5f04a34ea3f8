#!/usr/bin/env bash
# Context switches per echoed message: lf-echo pinned to core 0 (as perf/run.sh pins servers),
# perf/loadgen on core 1, 100 connections of 16 B messages for 2 s; the server's voluntary and
# involuntary switches are summed over its threads (/proc/PID/task/*/status).
# Usage: perf/context_switches.sh [BUILD_DIR] [lf-echo options, e.g. --model reactor --threads 2]
set -euo pipefail
build=${1:-build/release}
shift || true
port=$((20000 + RANDOM % 20000))
pin_server=(taskset -c 0)
pin_load=(taskset -c 1)
[ "$(nproc)" -ge 2 ] || { pin_server=(); pin_load=(); }

"${pin_server[@]}" "$build/apps/lf-echo" --port "$port" "$@" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
sleep 0.3
result=$("${pin_load[@]}" "$build/perf/loadgen" --port "$port" -c 100 -s 16 -d 2 -w 0.2 | tail -1)
switches=0
for status in /proc/"$server"/task/*/status; do
  switches=$((switches + $(awk '/ctxt_switches/ {n += $2} END {print n}' "$status")))
done
python3 - "$result" "$switches" "$*" <<'PY'
import json, sys
result, switches, args = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
# Warm-up and measured time both echo messages; count both (2.2 s at the measured rate).
messages = result["msgs_per_s"] * 2.2
print(f"lf-echo {args or '(defaults)'}: {result['msgs_per_s']:,.0f} msg/s, "
      f"{switches:,} context switches, {switches / messages:.3f} per message")
PY
