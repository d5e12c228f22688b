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
# The sustained read bandwidth (a 4 GiB buffer, as large as the 8B preset's weights: a 1 GiB
# one caught short bursts of up to 60 GB/s where 4 GiB sustained 33-36 on the 2-core EPYC),
# before and after (a shared machine swings with its other tenants); decode's share is taken
# of the higher.
bandwidth() { "$root/build/bench/memory_bandwidth" "$t" 4096 | sed -E 's/.*"read_gb_per_s": ([0-9.]+).*/\1/'; }
bw_before="$(bandwidth)"
ours="$("$root/build/mlxcpp" bench -m "$mlx" --threads "$t" -p "$p" -n "$n" -r "$r" --json 2>/dev/null)"
peer="$("$llama_bench" -m "$gguf" -t "$t" -p "$p" -n "$n" -r "$r" -o json 2>/dev/null)"
bw_after="$(bandwidth)"
python3 - "$bw_before" "$ours" "$peer" "$t" "$bw_after" <<'PY'
import json, sys
bw_before, ours, peer, t, bw_after = float(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
bw = max(bw_before, bw_after)
pp = next(x for x in peer if x["n_prompt"] > 0 and x["n_gen"] == 0)
tg = next(x for x in peer if x["n_gen"] > 0 and x["n_prompt"] == 0)
share = ours["decode_tps"] * ours["weights_bytes"] / (bw * 1e9)
print(json.dumps({
    "threads": t, "read_bandwidth_gb_s": bw, "read_bandwidth_before_after": [bw_before, bw_after],
    "mlxcpp": {"pp_tps": round(ours["prefill_tps"], 2), "tg_tps": round(ours["decode_tps"], 2),
               "weights_bytes": ours["weights_bytes"], "decode_share_of_bandwidth": round(share, 3),
               "peak_rss_bytes": ours["peak_rss_bytes"]},
    "llama_cpp": {"pp_tps": round(pp["avg_ts"], 2), "tg_tps": round(tg["avg_ts"], 2), "model_size": tg.get("model_size"),
                  "build": tg.get("build_commit")},
    "llama_cpp_decode_share_of_bandwidth": round(tg["avg_ts"] * tg["model_size"] / (bw * 1e9), 3),
    "ratio_pp": round(ours["prefill_tps"] / pp["avg_ts"], 3), "ratio_tg": round(ours["decode_tps"] / tg["avg_ts"], 3),
}, indent=2))
PY
