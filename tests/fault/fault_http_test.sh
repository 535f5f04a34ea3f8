#!/usr/bin/env bash
# Fault injection on the zero-copy path: runs SERVER (lf-http) with fault_shim.so preloaded, so
# sendfile (and the socket calls around it) fail at random, while curl downloads a 1 MiB static
# file many times over kept-alive connections. Every download that completes must be the file,
# byte for byte; a failed one must end with the connection closed, never a corrupt body. Then: the
# server still serves, its fd count is back to what it was, and SIGTERM ends it with status 0.
#   fault_http_test.sh SERVER SHIM [ROUNDS] [PROBABILITY]
set -euo pipefail
server=$1 shim=$2
rounds=${3:-${LF_FAULT_ROUNDS:-40}}
probability=${4:-${LF_FAULT_PROBABILITY:-0.1}}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT

mkdir "$work/root"
head -c 1048576 /dev/urandom >"$work/root/file.bin"
expected=$(sha256sum <"$work/root/file.bin" | cut -d' ' -f1)

preload=$shim
runtime=$(ldd "$server" | grep -oE '/[^ ]*lib(asan|tsan)\.so[^ ]*' | head -n 1 || true)
[ -n "$runtime" ] && preload="$runtime:$shim"

for _ in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 12000 ))
  LD_PRELOAD="$preload" LF_FAULT_PROBABILITY="$probability" LF_FAULT_SEED="$RANDOM" \
    LF_FAULT_AFTER_MS=1500 LF_FAULT_REPORT=1 LF_FAULT_CALLS=sendfile,writev,send,write,read,readv \
    "$server" --host 127.0.0.1 --port "$port" --threads 4 --root "$work/root" \
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

url="http://127.0.0.1:$port/file.bin"
complete=0 failed=0
for round in $(seq "$rounds"); do
  # Four downloads on one kept-alive connection per round.
  rm -f "$work"/got.*
  timeout 30 curl -s --max-time 20 -o "$work/got.1" "$url" -o "$work/got.2" "$url" \
    -o "$work/got.3" "$url" -o "$work/got.4" "$url" || true
  for i in 1 2 3 4; do
    if [ -f "$work/got.$i" ] && [ "$(stat -c %s "$work/got.$i")" -eq 1048576 ]; then
      got=$(sha256sum <"$work/got.$i" | cut -d' ' -f1)
      if [ "$got" != "$expected" ]; then
        echo "round $round download $i: a complete body with the wrong bytes"
        exit 1
      fi
      complete=$((complete + 1))
    else
      failed=$((failed + 1))
    fi
  done
done
echo "downloads: $complete complete and identical, $failed cut short by faults"
[ "$complete" -gt 0 ]

fds_after=
for _ in $(seq 100); do
  fds_after=$(ls /proc/"$pid"/fd | wc -l)
  [ "$fds_after" -le "$fds_before" ] && break
  sleep 0.1
done
echo "server fds: $fds_before before the load, $fds_after after"
[ "$fds_after" -le "$fds_before" ]

served=0
for _ in $(seq 20); do
  if [ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$url")" = 200 ]; then
    served=1
    break
  fi
done
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
echo "fault injection on sendfile: ok (probability $probability, $rounds rounds)"
