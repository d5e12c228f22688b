#!/usr/bin/env bash
# Serving, mlxcpp against llama.cpp's llama-server on the same machine in one run: the same
# load (bench/load_test.mjs: CLIENTS streaming clients for SECONDS, the same prompts and
# completion limits) first against llama-server (continuous batching, CLIENTS slots) on a
# GGUF of the same shapes (bench/make_peer_gguf.py), then against `mlxcpp serve` on the MLX
# model; prints both summaries and the ratio of generated tokens/s. Builds nothing: pass the
# llama-server of a llama.cpp you built yourself.
#   bench/serve_compare.sh LLAMA_SERVER MODEL.gguf MLX_MODEL_DIR [CLIENTS] [SECONDS] [PROMPT_WORDS] [MAX_TOKENS]
# PROMPT_WORDS and MAX_TOKENS are N or A-B (load_test.mjs). LLAMA_ARGS adds llama-server
# options (-ngl 99 for a GPU, -t N for threads); MLXCPP_ARGS adds `mlxcpp serve` options.
set -euo pipefail
llama_server="$1"; gguf="$2"; mlx="$3"; c="${4:-4}"; s="${5:-30}"; words="${6:-20-60}"; max="${7:-64}"
root="$(cd "$(dirname "$0")/.." && pwd)"
load=(node "$root/bench/load_test.mjs" --clients "$c" --seconds "$s" --prompt-words "$words" --max-tokens "$max")
# Each slot holds its longest request: prompt words (~1.3 tokens each with the chat template) and completion.
per_slot=$(( ${words#*-} * 13 / 10 + ${max#*-} + 256 ))
port=$(( 20000 + RANDOM % 20000 ))
# shellcheck disable=SC2086
"$llama_server" -m "$gguf" --host 127.0.0.1 --port "$port" -np "$c" -cb -c $(( per_slot * c )) ${LLAMA_ARGS:-} \
  > /tmp/serve_compare_llama.log 2>&1 &
peer_pid=$!
trap 'kill $peer_pid 2>/dev/null || true' EXIT
ready=
for _ in $(seq 600); do
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "http://127.0.0.1:$port/health" && { ready=1; break; }
  kill -0 $peer_pid 2>/dev/null || { echo "llama-server exited: see /tmp/serve_compare_llama.log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$ready" ] || { echo "llama-server not ready after 300 s: see /tmp/serve_compare_llama.log" >&2; exit 1; }
peer="$("${load[@]}" --url "http://127.0.0.1:$port" || true)"
kill $peer_pid; wait $peer_pid 2>/dev/null || true
# shellcheck disable=SC2086
ours="$("${load[@]}" -- -m "$mlx" --max-concurrency "$c" ${MLXCPP_ARGS:-} || true)"
python3 - "$ours" "$peer" <<'PY'
import json, sys
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
keys = ["requests", "errors", "generated_tokens", "tokens_per_s", "ttft_ms_p50", "ttft_ms_p99", "latency_ms_p99"]
print(json.dumps({"clients": ours["clients"], "prompt_words": ours["prompt_words"], "max_tokens": ours["max_tokens"],
                  "mlxcpp": {k: ours[k] for k in keys} | {"server_rss_mb": ours["server_rss_mb"]},
                  "llama_server": {k: peer[k] for k in keys},
                  "ratio_tokens_per_s": round(ours["tokens_per_s"] / peer["tokens_per_s"], 3)}, indent=2))
PY
