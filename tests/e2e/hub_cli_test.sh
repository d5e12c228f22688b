#!/usr/bin/env bash
# End-to-end: search, pull, resolve-before-download, offline mode and generate from a model
# pulled off the fake Hub (tests/support/fake_hub) serving the bundled model on 127.0.0.1.
set -uo pipefail
bin="$1"; fake_hub="$2"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
"$fake_hub" "$tmp/port" mlx-community/fortune-tiny-4bit="$root/models/fortune-tiny-mlx-4bit-g64" \
  mlx-community/fortune-tiny-copy-4bit="$root/models/fortune-tiny-mlx-4bit-g64" \
  mlx-community/fortune-tiny-huge="$root/models/fortune-tiny-mlx-4bit-g64" \
  --token hf_test --gated mlx-community/fortune-tiny-copy-4bit & hub_pid=$!
trap 'kill $hub_pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
export HF_ENDPOINT="http://127.0.0.1:$(cat "$tmp/port")" HF_HUB_CACHE="$tmp/hub" MLXCPP_CACHE="$tmp/mlxcpp" HF_TOKEN=hf_test
unset HF_HUB_OFFLINE
source "$(dirname "$0")/check.sh"
snap_re="$tmp/hub/models--mlx-community--fortune-tiny-4bit/snapshots/[0-9a-f]{40}"
check search-json 0 '"source": "hub"' -- "$bin" search fortune --json
check search 0 "mlx-community/fortune-tiny-4bit" -- "$bin" search fortune
check search-cached 0 '"source": "cache"' -- "$bin" search fortune --json
check pull-dry-run 0 '"bytes_missing": [1-9]' -- "$bin" pull mlx-community/fortune-tiny-4bit --dry-run
check pull 0 "$snap_re" -- "$bin" pull mlx-community/fortune-tiny-4bit
check pull-again 0 '"downloaded_files": 0' -- "$bin" pull mlx-community/fortune-tiny-4bit --json
check pull-lines 0 "^done model.safetensors" -- "$bin" pull mlx-community/fortune-tiny-copy-4bit
check pull-gated-no-token 1 "gated repository.*HF_TOKEN" -- env -u HF_TOKEN HF_HUB_CACHE="$tmp/hub2" "$bin" pull mlx-community/fortune-tiny-copy-4bit
check pull-missing 1 "repository not found.*did you mean" -- "$bin" pull mlx-community/Phi-3.5-mini-4k-instruct-mlx
check pull-short-name 1 "^  mlx-community/Phi-3.5-mini-instruct-4bit" -- "$bin" pull phi-3.5-mini
check pull-bare-name 0 "fortune-tiny-4bit is mlx-community/fortune-tiny-4bit" -- "$bin" pull fortune-tiny-4bit
check generate-pulled 0 "^ say that the man who, who knows it" -- \
  "$bin" generate -m mlx-community/fortune-tiny-4bit -p "The best way to" --raw --max-tokens 12
check generate-unknown 1 "did you mean" -- "$bin" generate -m mlx-community/Llama-3.1-8B-Instruct-mlx -p hi --raw
check generate-too-big 1 "would not fit this machine.*--force" -- \
  env MLXCPP_CATALOGUE="$root/tests/data/recommend/huge_model_catalogue.json" "$bin" generate -m mlx-community/fortune-tiny-huge -p hi
check generate-bare-name 0 "fortune-tiny-4bit is mlx-community/fortune-tiny-4bit" -- "$bin" generate -m fortune-tiny-4bit -p "The best way to" --raw --max-tokens 2
# The Hub away (not offline): a mistyped id fails at once with suggestions, cached ids among them.
kill $hub_pid; wait $hub_pid 2>/dev/null
check hub-down-mistyped 1 "did you mean:" -- timeout 5 "$bin" generate -m mlx-community/fortune-tiny-4bt -p hi
check hub-down-suggests-cached 1 "^  mlx-community/fortune-tiny-4bit " -- timeout 5 "$bin" generate -m mlx-community/fortune-tiny-4bt -p hi
check hub-down-pull-mistyped 1 "did you mean:" -- timeout 5 "$bin" pull mlx-community/fortune-tiny-4bt
check hub-down-search-fast 0 "mlx-community/fortune-tiny-4bit" -- env MLXCPP_SEARCH_TTL=0 timeout 8 "$bin" search fortune
# Offline: cached things work, nothing else is attempted.
export HF_HUB_OFFLINE=1
check offline-pull 0 "$snap_re" -- "$bin" pull mlx-community/fortune-tiny-4bit
check offline-generate 0 "^ say that" -- "$bin" generate -m mlx-community/fortune-tiny-4bit -p "The best way to" --raw --max-tokens 4
check offline-search 0 '"source": "cache"' -- env MLXCPP_SEARCH_TTL=0 "$bin" search fortune --json
check offline-search-local 0 "mlx-community/Phi-3.5-mini-instruct-4bit +\(downloads unknown offline\)" -- "$bin" search Phi-3.5
check offline-search-local-json 0 '"downloads": null' -- "$bin" search Phi-3.5 --json
check offline-resolve 0 "mlx-community/Phi-3.5-mini-instruct-4bit" -- "$bin" resolve mlx-community/Phi-3.5-mini-instruct-4bit
check offline-not-cached 1 "HF_HUB_OFFLINE is set" -- "$bin" pull mlx-community/Qwen2.5-0.5B-Instruct-4bit
[ "$fails" -eq 0 ] && echo "all hub e2e checks passed" || { echo "$fails hub e2e checks failed"; exit 1; }
