#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test in the release, debug, asan (Address +
# UndefinedBehavior sanitizers) and tsan (ThreadSanitizer) presets. Name presets to run fewer:
# ./test.sh debug
set -euo pipefail
cd "$(dirname "$0")"
./install-deps.sh

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release debug asan tsan)

for preset in "${presets[@]}"; do
  echo "=== ${preset}: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== ${preset}: test"
  ctest --preset "$preset"
done
echo "=== all tests passed in: ${presets[*]}"
