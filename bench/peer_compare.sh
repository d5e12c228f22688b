#!/usr/bin/env bash
# mlxcpp against llama.cpp on the same machine in one run: prefill (pp) and decode (tg)
# tokens/s with the same thread count, mlxcpp on an MLX 4-bit g64 model and llama.cpp on a
# Q4_0 GGUF of the same shapes (bench/make_peer_gguf.py + llama-quantize --pure), plus the
# machine's read bandwidth and decode's share of it. Builds nothing: pass the llama-bench
# of a llama.cpp you built yourself.
#   bench/peer_compare.sh LLAMA_BENCH MODEL.gguf MLX_MODEL_DIR [THREADS] [N_PROMPT] [N_GEN] [REPS]
set -euo pipefail
llama_bench="$1"; gguf="$2"; mlx="$3"; t="${4:-2}"; p="${5:-512}"; n="${6:-128}"; r="${7:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bw="$("$root/build/bench/memory_bandwidth" | sed -E 's/.*"read_gb_per_s": ([0-9.]+).*/\1/')"
ours="$("$root/build/mlxcpp" bench -m "$mlx" --threads "$t" -p "$p" -n "$n" -r "$r" --json 2>/dev/null)"
peer="$("$llama_bench" -m "$gguf" -t "$t" -p "$p" -n "$n" -r "$r" -o json 2>/dev/null)"
python3 - "$bw" "$ours" "$peer" "$t" <<'PY'
import json, sys
bw, ours, peer, t = float(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
pp = next(x for x in peer if x["n_prompt"] > 0 and x["n_gen"] == 0)
tg = next(x for x in peer if x["n_gen"] > 0 and x["n_prompt"] == 0)
share = ours["decode_tps"] * ours["weights_bytes"] / (bw * 1e9)
print(json.dumps({
    "threads": t, "read_bandwidth_gb_s": bw,
    "mlxcpp": {"pp_tps": round(ours["prefill_tps"], 2), "tg_tps": round(ours["decode_tps"], 2),
               "weights_bytes": ours["weights_bytes"], "decode_share_of_bandwidth": round(share, 3),
               "peak_rss_bytes": ours["peak_rss_bytes"]},
    "llama_cpp": {"pp_tps": round(pp["avg_ts"], 2), "tg_tps": round(tg["avg_ts"], 2), "model_size": tg.get("model_size"),
                  "build": tg.get("build_commit")},
    "ratio_pp": round(ours["prefill_tps"] / pp["avg_ts"], 3), "ratio_tg": round(ours["decode_tps"] / tg["avg_ts"], 3),
}, indent=2))
PY
