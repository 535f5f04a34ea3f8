#!/usr/bin/env bash
# Installs the Debian packages the perf suite needs beyond ../install-deps.sh: the peers it
# measures lf against (nginx, redis-server), the load tools (wrk, redis-benchmark) and gnuplot for
# the plots, and valgrind for perf/callgrind.sh. Run as root (or with sudo available).
set -euo pipefail
exec "$(dirname "$0")/../install-deps.sh" nginx-light redis-server redis-tools wrk gnuplot-nox valgrind \
  util-linux python3
