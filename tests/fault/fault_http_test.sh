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

. "$(dirname "$0")/fault_lib.sh"
LF_FAULT_PROBABILITY="$probability" LF_FAULT_CALLS=sendfile,writev,send,write,read,readv \
  start_under_shim "$shim" "$server" --threads 4 --root "$work/root"
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

expect_fds_back "$fds_before"

served=0
for _ in $(seq 20); do
  if [ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$url")" = 200 ]; then
    served=1
    break
  fi
done
[ "$served" -eq 1 ]

stop_and_check
echo "fault injection on sendfile: ok (probability $probability, $rounds rounds)"
