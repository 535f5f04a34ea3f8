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

. "$(dirname "$0")/fault_lib.sh"
LF_FAULT_PROBABILITY="$probability" LF_FAULT_EAGAIN="$eagain" \
  start_under_shim "$shim" "$server" --threads 4 --model "$model" --log-dir "$work/logs"
fds_before=$(ls /proc/"$pid"/fd | wc -l)

"$client" 127.0.0.1 "$port" 32 "$seconds" "$RANDOM" | tee "$work/client"

# Every connection the faults hit was closed, the others were closed by the client: the server
# holds what it held before.
expect_fds_back "$fds_before"

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

stop_and_check
echo "fault injection: ok (model $model, probability $probability, ${seconds} s)"
