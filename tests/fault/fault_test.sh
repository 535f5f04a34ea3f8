#!/usr/bin/env bash
# Fault injection: runs SERVER (lf-echo) with fault_shim.so preloaded, so its socket reads and
# writes, accept4, epoll_ctl, eventfd writes and sendfile fail at random (EINTR, EAGAIN, ENOMEM,
# ECONNRESET, EPIPE), while fault_client checks every echoed byte. Then: the server still serves,
# its fd count is back to what it was before the load, and SIGTERM ends it with status 0 (under
# the asan build LeakSanitizer runs at exit and would fail it).
#   fault_test.sh SERVER SHIM CLIENT [SECONDS] [PROBABILITY]
set -euo pipefail
server=$1 shim=$2 client=$3
seconds=${4:-${LF_FAULT_SECONDS:-5}}
probability=${5:-${LF_FAULT_PROBABILITY:-0.02}}
model=${LF_FAULT_MODEL:-lf}  # the concurrency model (lf-echo --model)
eagain=1
[ "$model" = lf-et ] && eagain=0  # see LF_FAULT_EAGAIN in fault_shim.c
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# A sanitizer runtime must come first in the preload list; the shim after it.
preload=$shim
runtime=$(ldd "$server" | grep -oE '/[^ ]*lib(asan|tsan)\.so[^ ]*' | head -n 1 || true)
[ -n "$runtime" ] && preload="$runtime:$shim"

for _ in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 12000 ))
  LD_PRELOAD="$preload" LF_FAULT_PROBABILITY="$probability" LF_FAULT_SEED="$RANDOM" \
    LF_FAULT_AFTER_MS=1500 LF_FAULT_REPORT=1 LF_FAULT_EAGAIN="$eagain" \
    "$server" --host 127.0.0.1 --port "$port" --threads 4 --model "$model" --log-dir "$work/logs" \
    >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && break
done
sleep 1.6  # faults start 1.5 s after load
fds_before=$(ls /proc/"$pid"/fd | wc -l)

"$client" 127.0.0.1 "$port" 32 "$seconds" "$RANDOM" | tee "$work/client"

# Every connection the faults hit was closed, the others were closed by the client: the server
# holds what it held before (give it a moment to notice the last closes).
fds_after=
for _ in $(seq 100); do
  fds_after=$(ls /proc/"$pid"/fd | wc -l)
  [ "$fds_after" -le "$fds_before" ] && break
  sleep 0.1
done
echo "server fds: $fds_before before the load, $fds_after after"
[ "$fds_after" -le "$fds_before" ]

# Still serving (faults keep coming: retry a few times).
served=0
for _ in $(seq 20); do
  if reply=$(exec 3<>"/dev/tcp/127.0.0.1/$port" && echo still-there >&3 && timeout 2 head -n 1 <&3) \
      && [ "$reply" = still-there ]; then
    served=1
    break
  fi
done 2>/dev/null
[ "$served" -eq 1 ]

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
grep "fault_shim:" "$work/err" || true
if [ "$status" -ne 0 ] || grep -qE "Sanitizer|runtime error" "$work/err"; then
  echo "server exited with status $status"
  tail -n 60 "$work/err"
  exit 1
fi
echo "fault injection: ok (model $model, probability $probability, ${seconds} s)"
