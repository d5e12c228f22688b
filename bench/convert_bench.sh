#!/usr/bin/env bash
# Benchmark: `mlxcpp convert -q` of a synthesized ~1 GB bf16 model against the machine's
# plain read+write speed for the same bytes (dd with fsync), both warm in the page cache.
# Prints both throughputs and their ratio. Usage: bench/convert_bench.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build="${1:-build}"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"
bin="$build/mlxcpp"
rm -rf "$work/src" "$work/q" "$work/copy.safetensors"
"$bin" synth --like llama-3.2-1b --layers 4 --dtype bf16 -o "$work/src" 2>/dev/null
src="$work/src/model.safetensors"
bytes=$(stat -c %s "$src")
cat "$src" >/dev/null  # warm the page cache for both runs

t0=$(date +%s.%N)
dd if="$src" of="$work/copy.safetensors" bs=16M conv=fsync status=none
t1=$(date +%s.%N)
"$bin" convert "$work/src" -o "$work/q" -q 2>/dev/null
t2=$(date +%s.%N)

python3 - "$bytes" "$t0" "$t1" "$t2" <<'PY'
import sys
b, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
copy, conv = t1 - t0, t2 - t1
print(f"model bytes          {b/1e9:.3f} GB (synth llama-3.2-1b, 4 layers, bf16)")
print(f"read+write (dd)      {copy:.2f} s  {b/copy/1e9:.2f} GB/s")
print(f"convert -q (4-bit)   {conv:.2f} s  {b/conv/1e9:.2f} GB/s of input")
print(f"ratio convert/copy   {copy/conv:.2f}  (target >= 0.50)")
PY
rm -rf "$work/src" "$work/q" "$work/copy.safetensors"
