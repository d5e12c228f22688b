#!/usr/bin/env bash
# Tokenizer encode speed, mlxcpp vs Hugging Face tokenizers (Rust) on the same 1 MB mixed
# English + code corpus, same machine, same run. Needs `npm install` in tests/tools.
# Usage: bench/tokenizer_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
# The corpus: Debian's licence texts (English) interleaved with this repository's C++ sources, cut at 1 MB.
python3 - "$work/corpus.txt" <<'PY'
import glob, sys
eng = [open(f, encoding="utf-8", errors="replace").read() for f in sorted(glob.glob("/usr/share/common-licenses/*")) if not f.endswith(".gz")]
code = [open(f, encoding="utf-8").read() for f in sorted(glob.glob("src/**/*.cpp", recursive=True) + glob.glob("src/**/*.h", recursive=True))]
parts, i = [], 0
while sum(map(len, parts)) < 1_000_000:
    parts.append(eng[i % len(eng)]); parts.append(code[i % len(code)]); i += 1
open(sys.argv[1], "w", encoding="utf-8").write("".join(parts)[:1_000_000])
PY
for t in llama3.1 qwen3 mistral-7b-v0.1; do
  dir="data/tokenizers/$t"
  zcat "$dir/tokenizer.json.gz" > "$work/$t.json"
  ours=$("$build/bench/tokenizer_bench" "$dir" "$work/corpus.txt" 5)
  theirs=$(node bench/tokenizer_bench_hf.js "$work/$t.json" "$work/corpus.txt" 5)
  python3 - "$t" "$ours" "$theirs" <<'PY'
import json, sys
t, a, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
same = "same ids count" if a["tokens"] == b["tokens"] else f"TOKEN COUNTS DIFFER {a['tokens']} vs {b['tokens']}"
print(f"{t:<18} mlxcpp {a['mb_per_s']:6.2f} MB/s   HF tokenizers {b['mb_per_s']:6.2f} MB/s   ratio {a['mb_per_s']/b['mb_per_s']:.2f}x   ({a['tokens']} tokens, {same})")
PY
done
