#!/usr/bin/env bash
# The CPU engine's kernels on ARM64, from this x86-64 machine: cross-compiles the fast
# kernels', the attention kernels' and the fast math's tests and the sources they need with Debian's aarch64 toolchain (static, so no
# ARM64 libraries are needed) and runs it under qemu-user. There the int8 kernels are not
# built and every format goes through the float kernels' GCC vector code, compiled for
# NEON — code an x86-64 build never compiles nor runs. Correctness only: emulated timings
# mean nothing.
#   tests/tools/arm64_kernels_check.sh [OUT_DIR]
# Needs g++-aarch64-linux-gnu, qemu-user, libgtest-dev (googletest's sources), libfmt-dev and
# nlohmann-json3-dev (headers only).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/build-arm64}"
cxx="${CXX_AARCH64:-aarch64-linux-gnu-g++}"
gtest=/usr/src/googletest/googletest
mkdir -p "$out/inc" "$out/obj"
# Only the header-only libraries, not the host's whole /usr/include (its glibc is x86-64's).
ln -sfn /usr/include/fmt "$out/inc/fmt"
ln -sfn /usr/include/nlohmann "$out/inc/nlohmann"
sources=(
  tests/unit/fast_kernels_test.cpp tests/unit/attention_test.cpp tests/unit/fast_math_test.cpp
  src/backend/cpu/matmul.cpp src/backend/weight_matrix.cpp src/backend/cpu/fast_matmul.cpp src/backend/cpu/int8_matmul.cpp src/backend/cpu/ops.cpp
  src/backend/cpu/bf16_matmul.cpp src/backend/cpu/product_rows.cpp src/backend/cpu/kernel_choice.cpp src/backend/cpu/attention.cpp src/backend/cpu/fast_math.cpp
  src/quant/affine.cpp src/quant/fp_formats.cpp src/quant/quant_spec.cpp src/quant/quantize_tensor.cpp
  src/util/thread_pool.cpp src/format/dtype.cpp src/format/weight_set.cpp src/format/quant_config.cpp
  src/format/safetensors.cpp src/util/mapped_file.cpp src/util/huge_buffer.cpp src/util/files.cpp
  "$gtest/src/gtest-all.cc" "$gtest/src/gtest_main.cc"
)
flags=(-std=c++20 -O2 -DFMT_HEADER_ONLY -I"$root/src" -I"$out/inc" -I"$gtest/include" -I"$gtest" -pthread)
objects=()
pids=()
for s in "${sources[@]}"; do
  src="$s"
  [[ "$s" = /* ]] || src="$root/$s"
  obj="$out/obj/$(echo "$s" | tr '/' '_').o"
  objects+=("$obj")
  "$cxx" "${flags[@]}" -c "$src" -o "$obj" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$(nproc)" ]; then  # at most one compiler per core
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
"$cxx" -static -pthread -o "$out/cpu_kernels_test" "${objects[@]}"
echo "arm64: $(file -b "$out/cpu_kernels_test" | cut -d, -f1-2)"
qemu-aarch64 "$out/cpu_kernels_test"
