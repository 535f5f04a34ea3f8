#!/usr/bin/env bash
# lf as a library, three ways, as a user outside this tree would use it:
#  1. cmake --install into a temporary prefix; only public headers (and the internal ones they
#     include) are installed; docs/examples/consumer/ is configured with find_package(lf), built
#     and run (it serves one request on loopback and exits 0);
#  2. the same consumer with lf vendored through add_subdirectory (LF_BUILD_* must default off);
#  3. consumer.cc compiled and linked with nothing but `pkg-config --cflags --libs lf`.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR [SANITIZE]  (SANITIZE: the build's LF_SANITIZE)
set -euo pipefail
build=$1
source=$2
sanitize=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=()
san_flags=""
if [ -n "$sanitize" ]; then
  san_flags="-fsanitize=$sanitize -fno-omit-frame-pointer"
  flags=(-DCMAKE_CXX_FLAGS="$san_flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitize")
fi
prefix="$work/prefix"
consumer="$source/docs/examples/consumer"

echo "== 1. install into $prefix, find_package(lf)"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for internal in lf/log/async_logger.h lf/log/log_file.h lf/base/signals.h lf/handlers/http/http_number.h; do
  if [ -e "$prefix/include/$internal" ]; then echo "FAILED: internal header $internal installed"; exit 1; fi
done
for public in lf/server.h lf/net/connector.h lf/net/datagram_handler.h lf/handlers/echo/echo_connection.h \
              lf/app/app_options.h lib/liblf_app.a \
              lib/cmake/lf/lfConfig.cmake lib/cmake/lf/lfConfigVersion.cmake lib/pkgconfig/lf.pc; do
  case $public in lib/*) path="$prefix/$public" ;; *) path="$prefix/include/$public" ;; esac
  [ -e "$path" ] || { echo "FAILED: $public not installed"; exit 1; }
done
cmake -S "$consumer" -B "$work/find_package" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_PREFIX_PATH="$prefix" "${flags[@]}" >"$work/configure1.log" || { cat "$work/configure1.log"; exit 1; }
cmake --build "$work/find_package" >"$work/build1.log" 2>&1 || { cat "$work/build1.log"; exit 1; }
"$work/find_package/consumer"
echo

echo "== 2. add_subdirectory(lf)"
cmake -S "$consumer" -B "$work/vendored" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DLF_SOURCE_DIR="$source" "${flags[@]}" >"$work/configure2.log" || { cat "$work/configure2.log"; exit 1; }
for option in LF_BUILD_TESTS LF_BUILD_APPS LF_BUILD_PERF; do
  grep -q "^$option:BOOL=OFF" "$work/vendored/CMakeCache.txt" || { echo "FAILED: $option is not OFF"; exit 1; }
done
cmake --build "$work/vendored" -j2 --target consumer >"$work/build2.log" 2>&1 || { cat "$work/build2.log"; exit 1; }
"$work/vendored/consumer"
echo

echo "== 3. pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# lf.pc carries -std=c++20 and one include directory: everything is included as lf/...
pkg-config --cflags lf | grep -q -- "-std=c++20" || { echo "FAILED: lf.pc lacks -std=c++20"; exit 1; }
# shellcheck disable=SC2046,SC2086
c++ $san_flags $(pkg-config --cflags lf) "$consumer/consumer.cc" -o "$work/consumer-pc" \
  $(pkg-config --libs lf)
"$work/consumer-pc"
echo '#include "echo/echo_connection.h"' > "$work/old_path.cc"
# shellcheck disable=SC2046
if c++ $(pkg-config --cflags lf) -fsyntax-only "$work/old_path.cc" 2>/dev/null; then
  echo "FAILED: handler headers are reachable without lf/handlers/"; exit 1
fi
echo
echo "package test passed"
