#!/usr/bin/env bash
# mlxcpp's CUDA backend against llama.cpp's on the same GPU in one run: prefill (pp) and
# decode (tg) tokens/s, mlxcpp on MLX 4-bit g64 (and optionally 8-bit g64) models and
# llama.cpp (all layers offloaded) on a Q4_0 GGUF of the same shapes
# (bench/make_peer_gguf.py --q4_0). Builds nothing: pass the llama-bench of a llama.cpp you
# built yourself with -DGGML_CUDA=ON.
#   bench/cuda_compare.sh LLAMA_BENCH MODEL.gguf MLX_4BIT_DIR [MLX_8BIT_DIR] [N_PROMPT] [N_GEN] [REPS]
set -euo pipefail
llama_bench="$1"; gguf="$2"; mlx4="$3"; mlx8="${4:-}"; p="${5:-512}"; n="${6:-128}"; r="${7:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MLXCPP_BIN:-$root/build/mlxcpp}"
ours4="$("$bin" bench -m "$mlx4" --device cuda -p "$p" -n "$n" -r "$r" --json 2>/dev/null)"
ours8="null"
[ -n "$mlx8" ] && ours8="$("$bin" bench -m "$mlx8" --device cuda -p "$p" -n "$n" -r "$r" --json 2>/dev/null)"
peer="$("$llama_bench" -m "$gguf" -ngl 99 -p "$p" -n "$n" -r "$r" -o json 2>/dev/null)"
gpu="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1 || true)"
python3 - "$ours4" "$ours8" "$peer" "$gpu" <<'PY'
import json, sys
ours4, ours8, peer, gpu = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
pp = next(x for x in peer if x["n_prompt"] > 0 and x["n_gen"] == 0)
tg = next(x for x in peer if x["n_gen"] > 0 and x["n_prompt"] == 0)
def ours(o):
    return None if o is None else {"pp_tps": round(o["prefill_tps"], 1), "pp_sd": round(o["prefill_tps_sd"], 1),
                                   "tg_tps": round(o["decode_tps"], 1), "tg_sd": round(o["decode_tps_sd"], 1),
                                   "weights_bytes": o["weights_bytes"], "device": o.get("device_description")}
print(json.dumps({
    "gpu": gpu,
    "mlxcpp_4bit_g64": ours(ours4), "mlxcpp_8bit_g64": ours(ours8),
    "llama_cpp_q4_0": {"pp_tps": round(pp["avg_ts"], 1), "pp_sd": round(pp["stddev_ts"], 1),
                       "tg_tps": round(tg["avg_ts"], 1), "tg_sd": round(tg["stddev_ts"], 1),
                       "model_size": tg.get("model_size"), "build": tg.get("build_commit")},
    "ratio_pp": round(ours4["prefill_tps"] / pp["avg_ts"], 3), "ratio_tg": round(ours4["decode_tps"] / tg["avg_ts"], 3),
}, indent=2))
PY
