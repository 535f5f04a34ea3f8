#!/usr/bin/env bash
# Smoke test of lf-proxy: lf-echo on a free loopback port, lf-proxy in front of it; a line and
# 1 MiB of random bytes go through the proxy and come back unchanged (nc half-closes with -N, so
# the FIN must pass through both ways); then SIGTERM stops both cleanly.
set -euo pipefail
proxy_binary=$1
echo_binary=$2
work=$(mktemp -d)
trap 'kill -9 "$echo_pid" "$proxy_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

wait_for() {  # file text pid
  for _ in $(seq 400); do
    grep -q "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# Ports below the ephemeral range; retried on others if another test holds them.
for _ in 1 2 3 4 5; do
  base=$(( 20050 + (RANDOM % 120) * 100 ))
  "$echo_binary" --host 127.0.0.1 --threads 2 --port $((base + 1)) >"$work/echo" 2>&1 &
  echo_pid=$!
  wait_for "$work/echo" "running" "$echo_pid" || continue
  "$proxy_binary" --host 127.0.0.1 --threads 2 --listen $((base + 2)) \
    --to 127.0.0.1:$((base + 1)) >"$work/proxy" 2>&1 &
  proxy_pid=$!
  wait_for "$work/proxy" "running" "$proxy_pid" && break
  kill "$echo_pid" 2>/dev/null || true
done
cat "$work/proxy"

reply=$(echo "hello through the proxy" | timeout 10 nc -N 127.0.0.1 $((base + 2)))
[ "$reply" = "hello through the proxy" ] || { echo "FAILED: got '$reply'"; exit 1; }
echo "ok: line"
head -c 1048576 /dev/urandom >"$work/data"
timeout 30 nc -N 127.0.0.1 $((base + 2)) <"$work/data" >"$work/echoed"
cmp "$work/data" "$work/echoed" || { echo "FAILED: 1 MiB came back different"; exit 1; }
echo "ok: 1 MiB"

kill -TERM "$proxy_pid" "$echo_pid"
wait "$proxy_pid"
wait "$echo_pid"
grep -q "lf-proxy stopped" "$work/proxy"
echo "lf-proxy smoke test passed"
