#!/usr/bin/env bash
# Builds and runs every libFuzzer target for a bounded time each (default 60 s):
#   tests/fuzz/run.sh [SECONDS] [OUT_DIR]
# Each target starts from its seed corpus in tests/fuzz/corpus/<target>/; what the fuzzer finds
# goes to OUT_DIR/corpus/<target>/ (the seeds stay untouched). A crash stops the run with the
# reproducer in OUT_DIR/crash-*; turn it into a GoogleTest case before fixing it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-60}"
out="${2:-$root/build/fuzz}"
"$root/tests/fuzz/build.sh" "$out"
status=0
for target in http_parser resp_parser kv_text frame_decoder buffer; do
  mkdir -p "$out/corpus/$target"
  echo "=== fuzz ${target}: ${seconds} s"
  if ! "$out/${target}_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
      -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$out/${target}-" \
      "$out/corpus/$target" "$root/tests/fuzz/corpus/$target" 2>"$out/${target}.log"; then
    tail -n 60 "$out/${target}.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/${target}.log" | tail -n 2
  fi
done
exit "$status"
