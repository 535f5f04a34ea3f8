#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ (ASan + UBSan + libFuzzer) into a directory of
# their own, apart from the GCC build: tests/fuzz/build.sh [OUT_DIR] (default build/fuzz).
# Needs Debian clang and libclang-rt-14-dev (install-deps.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/build/fuzz}"
mkdir -p "$out"
cxx="${CXX_FUZZ:-clang++}"
# Handlers are included as lf/handlers/<name>/...: a link in the output directory gives them
# that path, as the CMake build does.
mkdir -p "$out/include/lf"
ln -sfn "$root/handlers" "$out/include/lf/handlers"
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -I"$root/framework" -I"$out/include")

declare -A sources=(
  [http_parser]="handlers/http/http_parser.cc handlers/http/http_request.cc handlers/http/http_uri.cc handlers/http/http_date.cc handlers/http/http_etag.cc"
  [resp_parser]="handlers/kv/resp_parser.cc handlers/kv/integer_text.cc"
  [kv_text]="handlers/kv/glob_match.cc handlers/kv/float_text.cc handlers/kv/integer_text.cc handlers/kv/command_meta.cc"
  [frame_decoder]="handlers/codec/frame_decoder.cc framework/lf/net/buffer.cc"
  [buffer]="framework/lf/net/buffer.cc"
)
for target in "${!sources[@]}"; do
  files=("$root/tests/fuzz/${target}_fuzz.cc")
  for f in ${sources[$target]}; do files+=("$root/$f"); done
  # Rebuild only when a source is newer than the binary.
  binary="$out/${target}_fuzz"
  if [ -x "$binary" ]; then
    newer=0
    for f in "${files[@]}"; do [ "$f" -nt "$binary" ] && newer=1; done
    for f in "$root"/handlers/*/*.h "$root"/framework/lf/*.h "$root"/framework/lf/*/*.h; do [ "$f" -nt "$binary" ] && newer=1; done
    [ "$newer" -eq 0 ] && continue
  fi
  echo "fuzz build: ${target}_fuzz"
  "$cxx" "${flags[@]}" "${files[@]}" -o "$binary"
done
