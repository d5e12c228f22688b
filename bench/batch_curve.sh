#!/usr/bin/env bash
# The batch curve of one model: `mlxcpp bench --batch B` for B = 1, 2, 4, ..., 64 — B
# sequences prefilled with -p random tokens, then decoding -n tokens together — with each
# point's aggregate decode tokens/s and the share of the memory bandwidth its decode steps
# use (the weights once per step, plus every sequence's KV cache read once). Builds nothing.
# Usage: bench/batch_curve.sh MLXCPP MODEL PEAK_GBS [bench options...]
#   PEAK_GBS: the device's memory bandwidth in GB/s (H200: 4800; measure a CPU's with
#   bench/memory_bandwidth). Example:
#   bench/batch_curve.sh build/mlxcpp /tmp/l8b 4800 -p 1024 -n 128 --device cuda
set -euo pipefail
mlxcpp="$1" model="$2" peak="$3"
shift 3
batches="${BATCHES:-1 2 4 8 16 32 64}"
for b in $batches; do
  "$mlxcpp" bench -m "$model" --batch "$b" -r 1 --json "$@"
done | python3 "$(dirname "$0")/batch_table.py" "$peak"
