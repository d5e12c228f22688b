#!/usr/bin/env bash
# Runs every libFuzzer target in build-san/fuzz for SECONDS each, seeded from the
# committed corpus in fuzz/corpus/<target>. Fails on the first finding.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
for bin in build-san/fuzz/fuzz_*; do
  name="$(basename "$bin")"
  work=".fuzz-corpus/$name"
  mkdir -p "$work"
  echo "fuzz: $name for ${seconds}s" >&2
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" "fuzz/corpus/$name" 2>&1 | tail -n 12
done
