#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs the main demo, lf-demo: echo,
# HTTP, Redis-protocol key-value, chat and timestamp servers on one Leader/Followers thread set.
# Extra arguments go to the program, e.g. ./demo.sh --threads 4 --http-port 8081
set -euo pipefail
cd "$(dirname "$0")"
./install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
exec build/release/apps/lf-demo "$@"
