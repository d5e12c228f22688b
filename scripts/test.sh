#!/usr/bin/env bash
# The test command: the full suite on the Release build, the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, the CPU kernels cross-compiled for ARM64 and
# run under qemu, and a bounded fuzzing run of every parser of untrusted bytes. Run
# scripts/setup.sh first.
# Usage: scripts/test.sh [--quick]   (--quick: Release suite only)
# Env: MLXCPP_FUZZ_SECONDS (default 10 per target: a replay of the corpus and a short search;
# campaigns: scripts/fuzz.sh SECONDS)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
# The CUDA tests (label "cuda") need a GPU: they run where one is visible.
ctest --test-dir build --output-on-failure -j"$jobs" -LE cuda
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && [ -x build/tests/cuda_backend_test ]; then
  echo "== CUDA backend tests ==" >&2
  ctest --test-dir build --output-on-failure -L cuda
fi
[ "${1:-}" = "--quick" ] && exit 0

# One clang build serves both: the library and tests with ASan + UBSan (and libFuzzer's
# coverage instrumentation, which costs the tests little), the fuzz targets linked with
# libFuzzer. Building the library once instead of twice keeps CI well under 30 minutes.
echo "== sanitizers (ASan + UBSan): unit tests ==" >&2
# -O1 and line tables, as the sanitizers' documentation advises: a report's frames keep
# their file:line, and the build carries no full debug information.
CC=clang CXX=clang++ cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLXCPP_ASAN=ON -DMLXCPP_UBSAN=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DMLXCPP_FUZZ=ON -DMLXCPP_CUDA=OFF -DMLXCPP_BUILD_BENCH=OFF -DMLXCPP_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-san -j"$jobs" --target unit_tests fuzzers
# The perplexity tests run hundreds of forward passes through code the other tests already
# cover; under the sanitizers they cost three minutes, so they run in the Release suite only,
# as do the template-error catalogue (44 s here: each case parses a large template) and the
# synthesis tests (30 s: they write whole presets), to keep CI under 30 minutes.
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-san --output-on-failure -j"$jobs" -L unit \
  -E 'Perplexity|ChatTemplate.UnsupportedConstructs|Synth\.'

echo "== ARM64: the CPU kernels' test cross-compiled, run under qemu ==" >&2
tests/tools/arm64_kernels_check.sh build-arm64

echo "== fuzzing (libFuzzer, ${MLXCPP_FUZZ_SECONDS:-10} s per target) ==" >&2
scripts/fuzz.sh "${MLXCPP_FUZZ_SECONDS:-10}"
