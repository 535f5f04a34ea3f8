#!/usr/bin/env bash
# The perf suite (the workloads of docs/perf.md): lf's concurrency models against the raw epoll
# floor, Boost.Asio, nginx and redis-server, A/B interleaved, with the server pinned to core 0 and
# the load to core 1, and the user-space instructions per echoed message of every echo server
# under callgrind (perf/callgrind.sh). Writes perf/results/<date>.json and renders docs/perf.md
# (+ docs/perf/*.png).
#
#   perf/run.sh                   full run (<= 20 minutes on 2 cores)
#   perf/run.sh --quick           every workload and system, fewer repetitions, shorter runs
#                                 (<= 6 min, 3 of them callgrind's: it is deterministic, so its
#                                 runs are the same in both modes)
#   perf/run.sh --only callgrind  only the workloads named (comma-separated; a name or a prefix
#                                 before '-': echo, echo-16, bulk, mixed, http, redis, tls, idle,
#                                 callgrind, micro)
#   perf/run.sh --only tls        TLS against nginx, same certificate and cipher: HTTPS keep-alive
#                                 (wrk), full and resumed handshakes (openssl s_time -new/-reuse),
#                                 a 64 MiB file (curl)
#
# Options: --build-dir DIR (or LF_PERF_BUILD_DIR; default build/release, configured and built
# here if needed), --threads N (server threads, default 2), --reps N, --models a,b,c, --only
# a,b. Any other option goes to perf/suite/run_suite.py.
set -euo pipefail
cd "$(dirname "$0")/.."
command="perf/run.sh $*"

build_dir=${LF_PERF_BUILD_DIR:-build/release}
quick=""
rest=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=--quick ;;
    --build-dir) build_dir=$2; shift ;;
    --build-dir=*) build_dir=${1#*=} ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) rest+=("$1") ;;
  esac
  shift
done

perf/install-deps.sh  # also runs ./install-deps.sh

targets=(lf-echo lf-http lf-kv loadgen epoll_echo asio_echo buffer_bench timer_bench log_bench handoff_bench)
echo "perf: building ${targets[*]} in $build_dir" >&2
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  if [ "$build_dir" = build/release ]; then
    cmake --preset release >/dev/null
  else
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
fi
grep -q "CMAKE_BUILD_TYPE:STRING=Release" "$build_dir/CMakeCache.txt" ||
  echo "perf: warning: $build_dir is not a Release build; figures will not mean much" >&2
cmake --build "$build_dir" --target "${targets[@]}" >/dev/null

# 10,000 idle connections need that many descriptors in the server and in loadgen.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

stamp=$(date +%Y-%m-%dT%H%M%S)
results=perf/results/$stamp.json
mkdir -p perf/results
python3 perf/suite/run_suite.py --build-dir "$build_dir" $quick --out "$results" \
  --fd-limit "$(ulimit -n)" --command "$command" ${rest[@]+"${rest[@]}"}
python3 perf/suite/render.py "$results" --doc docs/perf.md
echo "perf: done: $results, docs/perf.md" >&2
