#!/usr/bin/env bash
# Interoperability of mlxcpp's cache with Python's huggingface_hub, both ways (issue: Hub
# client). Needs python3 with huggingface_hub (the GPU machine has it); run there as
#   tests/tools/hf_interop_check.sh build/mlxcpp build/tests/fake_hub
# 1. mlxcpp pulls from the fake Hub; huggingface_hub's scan_cache_dir reads the cache without
#    warnings and an offline snapshot_download returns the same snapshot.
# 2. huggingface_hub's snapshot_download fills a second cache from the fake Hub; mlxcpp, offline,
#    finds and runs the model from it.
set -euo pipefail
bin="$(realpath "$1")"; fake_hub="$(realpath "$2")"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
"$fake_hub" "$tmp/port" mlx-community/fortune-tiny-4bit="$root/models/fortune-tiny-mlx-4bit-g64" \
  mlx-community/fortune-tiny-py-4bit="$root/models/fortune-tiny-mlx-4bit-g64" & hub=$!
trap 'kill $hub 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
export HF_ENDPOINT="http://127.0.0.1:$(cat "$tmp/port")"
python3 -c "import huggingface_hub; print('huggingface_hub', huggingface_hub.__version__)"

echo "== 1. mlxcpp writes, huggingface_hub reads"
HF_HUB_CACHE="$tmp/a" "$bin" pull --all mlx-community/fortune-tiny-4bit
HF_HUB_CACHE="$tmp/a" HF_HUB_OFFLINE=1 python3 - "$tmp/a" <<'PY'
import os, sys
from huggingface_hub import scan_cache_dir, snapshot_download
info = scan_cache_dir(sys.argv[1])
print("scan_cache_dir: repos", [(r.repo_id, r.size_on_disk, r.nb_files, sorted(r.refs)) for r in info.repos])
print("warnings:", info.warnings)
assert not info.warnings, info.warnings
(repo,) = info.repos
assert repo.repo_id == "mlx-community/fortune-tiny-4bit" and repo.nb_files >= 5, repo
(rev,) = repo.revisions
assert "main" in rev.refs
path = snapshot_download("mlx-community/fortune-tiny-4bit", cache_dir=sys.argv[1])
print("offline snapshot_download ->", path)
assert os.path.realpath(path) == os.path.realpath(str(rev.snapshot_path)), (path, rev.snapshot_path)
for f in rev.files:
    assert os.path.getsize(f.file_path) == f.size_on_disk
print("OK: huggingface_hub reads the cache mlxcpp wrote")
PY

echo "== 2. huggingface_hub writes, mlxcpp reads (offline)"
HF_HUB_CACHE="$tmp/b" python3 -c "
from huggingface_hub import snapshot_download
print('snapshot_download ->', snapshot_download('mlx-community/fortune-tiny-py-4bit'))"
HF_HUB_CACHE="$tmp/b" HF_HUB_OFFLINE=1 "$bin" pull mlx-community/fortune-tiny-py-4bit
out="$(HF_HUB_CACHE="$tmp/b" HF_HUB_OFFLINE=1 "$bin" generate -m mlx-community/fortune-tiny-py-4bit -p "The best way to" --raw --max-tokens 12)"
echo "generate: $out"
grep -q "say that the man who, who knows it" <<<"$out"
echo "OK: mlxcpp runs a model from the cache huggingface_hub wrote"
