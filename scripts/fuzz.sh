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
  # The whole log is kept: on a finding, its report (stack, signal, the target's own
  # message) comes before libFuzzer's summary lines.
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" "fuzz/corpus/$name" >"$work.log" 2>&1; then
    tail -n 8 "$work.log"
  else
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED|RELOAD)' "$work.log" | tail -n 80
    exit 1
  fi
done
