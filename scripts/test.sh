#!/usr/bin/env bash
# The test command: the full suite on the Release build, the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and a bounded fuzzing run of every
# parser of untrusted bytes. Run scripts/setup.sh first.
# Usage: scripts/test.sh [--quick]   (--quick: Release suite only)
# Env: MLXCPP_FUZZ_SECONDS (default 30 per target; longer campaigns: scripts/fuzz.sh SECONDS)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
[ "${1:-}" = "--quick" ] && exit 0

echo "== sanitizers (ASan + UBSan): unit tests ==" >&2
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLXCPP_ASAN=ON -DMLXCPP_UBSAN=ON \
  -DMLXCPP_CUDA=OFF -DMLXCPP_BUILD_BENCH=OFF -DMLXCPP_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit

echo "== fuzzing (libFuzzer, ${MLXCPP_FUZZ_SECONDS:-30} s per target) ==" >&2
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLXCPP_FUZZ=ON \
  -DMLXCPP_CUDA=OFF -DMLXCPP_BUILD_TESTS=OFF -DMLXCPP_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzzers
scripts/fuzz.sh "${MLXCPP_FUZZ_SECONDS:-30}"
