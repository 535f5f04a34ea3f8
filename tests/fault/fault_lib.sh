# Shared by the fault-injection scripts (sourced): start a server under fault_shim.so, check its fd
# count came back, stop it and check it exited cleanly. Expects `work` (a temp dir) and sets `pid`
# and `port`.

# start_under_shim SHIM SERVER [ARGS...]: starts SERVER --host 127.0.0.1 --port PORT ARGS with the
# shim preloaded (after the sanitizer runtime, if SERVER has one) and the LF_FAULT_* variables of
# the caller's environment; retries on another port if the port is taken.
start_under_shim() {
  local shim=$1 server=$2
  shift 2
  local preload=$shim runtime
  runtime=$(ldd "$server" | grep -oE '/[^ ]*lib(asan|tsan)\.so[^ ]*' | head -n 1 || true)
  [ -n "$runtime" ] && preload="$runtime:$shim"
  for _ in 1 2 3 4 5; do
    port=$(( 20000 + RANDOM % 12000 ))
    LD_PRELOAD="$preload" LF_FAULT_SEED="$RANDOM" LF_FAULT_AFTER_MS=1500 LF_FAULT_REPORT=1 \
      "$server" --host 127.0.0.1 --port "$port" "$@" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 200); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && break
  done
  sleep 1.6  # faults start 1.5 s after load
}

# expect_fds_back BEFORE: the server holds no more fds than BEFORE (given a moment to notice the
# last closes).
expect_fds_back() {
  local before=$1 after
  for _ in $(seq 100); do
    after=$(ls /proc/"$pid"/fd | wc -l)
    [ "$after" -le "$before" ] && break
    sleep 0.1
  done
  echo "server fds: $before before the load, $after after"
  [ "$after" -le "$before" ]
}

# stop_and_check: SIGTERM, then exit status 0 and no sanitizer report (under asan, LeakSanitizer
# runs at exit).
stop_and_check() {
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  pid=
  grep "fault_shim:" "$work/err" || true
  if [ "$status" -ne 0 ] || grep -qE "Sanitizer|runtime error" "$work/err"; then
    echo "server exited with status $status"
    tail -n 60 "$work/err"
    return 1
  fi
}
