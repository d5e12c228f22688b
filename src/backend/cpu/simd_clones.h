// Functions written with GCC vector extensions are compiled for several x86-64 instruction
// sets and the best is chosen at load time (AVX-512, AVX2, baseline SSE2). Elsewhere — ARM64,
// whose baseline has NEON — they are compiled once, for the target.
#pragma once

// Clang (Debian 12's 14, which builds the sanitizer and fuzzing targets) compiles these
// functions once, for AVX-512 alone, which faults on CPUs without it: with clang they are
// compiled for the baseline.
#if defined(__x86_64__) && !defined(__clang__)
#define MLXCPP_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MLXCPP_SIMD_CLONES
#endif
