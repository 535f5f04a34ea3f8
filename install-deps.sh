#!/usr/bin/env bash
# Installs the Debian packages lf needs to build, test and run its demos. Skips apt entirely when
# everything is already there. Run as root (or with sudo available). Arguments name more packages
# to install with them (perf/install-deps.sh passes the perf suite's peers).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libfmt-dev libcli11-dev libspdlog-dev
  libssl-dev openssl  # TLS (lf/net/tls_context.h); tests/tls_test.cc runs openssl s_client
  netcat-openbsd curl procps redis-tools libhiredis-dev wrk
  redis-server  # tests/kv_redis_diff_test.cc: lf-kv against the real thing
  python3-prometheus-client  # tests/metrics_test.cc: /metrics parsed by prometheus_client
  clang libclang-rt-14-dev
  libboost-dev nlohmann-json3-dev  # perf/: the Asio peer and loadgen's JSON (perf/install-deps.sh: the rest)
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
