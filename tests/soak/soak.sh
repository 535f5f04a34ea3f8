#!/usr/bin/env bash
# The full soak: 1,000 connections of checksummed random-sized echo for 60 s under every
# concurrency model, then graceful shutdown under load. Prints the figures (bytes checked, RSS
# after warm-up and at the end).
#   tests/soak/soak.sh [BUILD_DIR]   (default build/release; LF_SOAK_SECONDS, LF_SOAK_CONNECTIONS)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/release}"
cmake --build "$build" --target soak_test shutdown_test
export LF_SOAK_SECONDS="${LF_SOAK_SECONDS:-60}" LF_SOAK_CONNECTIONS="${LF_SOAK_CONNECTIONS:-1000}"
"$build/tests/soak/soak_test"
"$build/tests/soak/shutdown_test"
