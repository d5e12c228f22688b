#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the examples built against the installed
# package two ways (find_package(mlxcpp) and pkg-config), and run on the installed model.
set -euo pipefail
build="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/mlxcpp"
test -f "$tmp/prefix/share/mlxcpp/models/fortune-tiny-mlx-4bit-g64/model.safetensors"
export LD_LIBRARY_PATH="$tmp/prefix/lib:${LD_LIBRARY_PATH:-}"
export MLXCPP_BUNDLED_MODEL="$tmp/prefix/share/mlxcpp/models/fortune-tiny-mlx-4bit-g64"
want=" say that the man who, who knows it; that is"
# 1. find_package
cmake -S "$src/examples" -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/ex" -j2 >/dev/null
out="$("$tmp/ex/generate_c_example")"
grep -qF -- "$want" <<<"$out" || { echo "FAIL find_package C example: $out"; exit 1; }
"$tmp/ex/generate_example" "" "Tell me a fortune." | grep -q "tokens, " || { echo "FAIL C++ example"; exit 1; }
echo "ok   find_package(mlxcpp): C and C++ examples built and ran"
# 2. pkg-config, the C example compiled as strict C99
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
flags="$(pkg-config --cflags --libs mlxcpp)"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror "$src/examples/generate_c.c" $flags -o "$tmp/c_pkgconfig"
out="$("$tmp/c_pkgconfig")"
grep -qF -- "$want" <<<"$out" || { echo "FAIL pkg-config C example: $out"; exit 1; }
echo "ok   pkg-config mlxcpp: $flags"
