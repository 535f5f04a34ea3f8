#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs the main demo (lf-echo for now).
# Extra arguments go to the program, e.g. ./demo.sh --port 7007 --threads 4
set -euo pipefail
cd "$(dirname "$0")"
./install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
exec build/release/apps/lf-echo "$@"
