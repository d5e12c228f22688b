#!/usr/bin/env bash
# What sampling costs during decode: `mlxcpp bench`'s decode test drawing greedily and with
# the common sampling settings, and each setting's extra time per token over greedy.
#   bench/sampling_cost.sh MODEL_DIR [DEVICE=auto] [N_GEN=256] [REPS=2]
set -euo pipefail
model="$1"; device="${2:-auto}"; n="${3:-256}"; r="${4:-2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MLXCPP_BIN:-$root/build/mlxcpp}"
greedy=""
for opts in "--temp 0" "--temp 1.0" "--temp 0.8 --top-p 0.9" "--temp 0.8 --top-k 40 --min-p 0.05 --repetition-penalty 1.1"; do
  # shellcheck disable=SC2086
  tps="$("$bin" bench -m "$model" --device "$device" -p 16 -n "$n" -r "$r" $opts --json 2>/dev/null |
         python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f %.2f" % (d["decode_tps"], d["decode_tps_sd"]))')"
  read -r mean sd <<<"$tps"
  [ -z "$greedy" ] && greedy="$mean"
  extra="$(python3 -c "print('%.1f' % (1e6 / $mean - 1e6 / $greedy))")"
  printf '%-62s tg%-4d %9s ± %-6s tokens/s  %+8s µs/token vs greedy\n' "$opts" "$n" "$mean" "$sd" "$extra"
done
