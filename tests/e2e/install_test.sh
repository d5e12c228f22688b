#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the examples built against the installed
# package two ways (find_package(mlxcpp) and pkg-config), and run on the installed model.
set -euo pipefail
trap 'echo "FAIL at line $LINENO: $BASH_COMMAND" >&2' ERR
build="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/mlxcpp"
test -f "$tmp/prefix/share/mlxcpp/models/fortune-tiny-mlx-4bit-g64/model.safetensors"
# The float32 path gives transformers' greedy text on every CPU; the default fast path's
# text depends on the CPU's kernels (a near tie late in it), so the examples, which use the
# default, are held to what the installed CLI's default gives on this machine.
want=" say that the man who, who knows it; that is"
# 0. The installed binary finds its own data wherever the prefix is (no environment, no
#    build tree: run from a copy of the prefix moved elsewhere).
mv "$tmp/prefix" "$tmp/moved" && cp -a "$tmp/moved" "$tmp/prefix"
out="$(cd / && "$tmp/moved/bin/mlxcpp" generate -p "The best way to" --raw --max-tokens 12 --precision f32 2>&1)"
grep -qF -- "using the bundled model $tmp/moved/share/mlxcpp/models/fortune-tiny-mlx-4bit-g64" <<<"$out" || { echo "FAIL installed data: $out"; exit 1; }
grep -qF -- "$want" <<<"$out" || { echo "FAIL installed generate: $out"; exit 1; }
# (The whole output is taken, then its first line: `| head -n 1` could close the pipe while
# the CLI still writes, and under pipefail its SIGPIPE would end this script without a word.)
fast="$(cd / && "$tmp/moved/bin/mlxcpp" generate -p "The best way to" --raw --max-tokens 12 2>/dev/null)"
fast="$(head -n 1 <<<"$fast")"
[ -n "$fast" ] || { echo "FAIL installed generate (fast path): no text"; exit 1; }
"$tmp/moved/bin/mlxcpp" synth --like llama-3.2-1b --layers 1 -q -o "$tmp/synth" >/dev/null 2>&1 || { echo "FAIL installed synth"; exit 1; }
rm -rf "$tmp/moved"
echo "ok   installed binary: its own bundled model and tokenizers from a moved prefix"
# 1. find_package
cmake -S "$src/examples" -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/ex" -j2 >/dev/null
out="$("$tmp/ex/generate_c_example")"
[ "$(head -n 1 <<<"$out")" = "$fast" ] || { echo "FAIL find_package C example: $out"; exit 1; }
"$tmp/ex/generate_example" "" "Tell me a fortune." | grep -q "tokens, " || { echo "FAIL C++ example"; exit 1; }
echo "ok   find_package(mlxcpp): C and C++ examples built and ran"
# 2. pkg-config, the C example compiled as strict C99
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
flags="$(pkg-config --cflags --libs mlxcpp)"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror "$src/examples/generate_c.c" $flags -o "$tmp/c_pkgconfig"
out="$("$tmp/c_pkgconfig")"
[ "$(head -n 1 <<<"$out")" = "$fast" ] || { echo "FAIL pkg-config C example: $out"; exit 1; }
echo "ok   pkg-config mlxcpp: $flags"
