#!/usr/bin/env bash
# Smoke test of the lf-echo program: starts it on a free loopback port, echoes a line and 1 MiB
# through it with bash's /dev/tcp, then stops it with SIGTERM and expects a clean exit (status 0).
# Arguments after the binary are passed to it (e.g. --model reactor).
set -euo pipefail
binary=$1
shift
work=$(mktemp -d)
trap 'kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# A port below the ephemeral range (32768+); retried if another test holds it.
for _ in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 12000 ))
  "$binary" --host 127.0.0.1 --port "$port" --threads 2 "$@" >"$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 400); do
    grep -q listening "$work/out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  grep -q listening "$work/out" && break
done
grep -q "listening on 127.0.0.1:$port" "$work/out"

exec 3<>"/dev/tcp/127.0.0.1/$port"
echo "hello lf" >&3
read -r -t 5 reply <&3
[ "$reply" = "hello lf" ]
exec 3<&-

head -c 1048576 /dev/urandom >"$work/in"
exec 3<>"/dev/tcp/127.0.0.1/$port"
cat "$work/in" >&3 &
writer=$!
head -c 1048576 <&3 >"$work/back"
wait "$writer"
exec 3<&-
cmp "$work/in" "$work/back"

kill -TERM "$pid"
for _ in $(seq 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
wait "$pid"   # set -e: a non-zero exit status fails the test
grep -q "lf-echo stopped" "$work/out"
echo "lf-echo smoke test passed ($*)"
