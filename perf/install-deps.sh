#!/usr/bin/env bash
# Installs the Debian packages the perf suite needs beyond ../install-deps.sh: the peers it
# measures lf against (nginx, redis-server), the load tools (wrk, redis-benchmark) and gnuplot for
# the plots. Skips apt when everything is there. Run as root (or with sudo available).
set -euo pipefail

packages=(nginx-light redis-server redis-tools wrk gnuplot-nox util-linux python3)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "perf/install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
