// The interface between the int8 dispatcher (int8_matmul.cpp, compiled for the baseline
// ISA) and the per-instruction-set kernels (int8_kernels.inc, compiled with -mavx2 or
// -mavx512*). Only plain pointers cross it: the kernel translation units must not
// instantiate any shared inline code (std::vector, std::fill, util helpers), because the
// linker keeps one copy of such code for the whole program and could pick the one built
// with AVX-512 for callers on a CPU without it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mlxcpp::cpu {

// How group scales and biases are stored in the model.
enum : int { kStoredF32 = 0, kStoredBF16 = 1, kStoredF16 = 2 };

// The AVX2 kernels take rows in the file's order (CodeOrder::Mlx) and the activations in
// theirs: 8-bit weights keep the element order; for 4-bit weights each run of 128 columns
// (64 bytes of codes) is permuted as the bytes unpack, low nibbles (elements 0, 2, ...,
// 126) first and high nibbles (1, 3, ..., 127) second, so 4-bit rows must be whole runs.
// The VNNI kernels take rows in CodeOrder::GroupLanes and the activations in the same
// order (int8_kernels.inc). quantize() writes the order of its instruction set. Groups are
// 64 or 128 columns.
constexpr int64_t kRunColumns4 = 128;
// The AVX2 kernels widen a row's group scales on the stack: rows of at most this many groups.
constexpr int64_t kMaxGroups = 2048;

struct Int8Rows {
  const uint8_t* codes;  // packed weights, row r at codes + r * row_bytes
  size_t row_bytes;
  int64_t cols, group, n;  // input features, group size, input rows
  // Activations [n][cols] as int8 codes in the kernels' order, per weight group
  // x ≈ d·q, d = max|x|/127 over the group, with xs = d [n][cols/group]; gsum
  // [n][cols/group] are the group sums of the coded x for the affine bias term.
  const int8_t* xq;
  const float *xs, *gsum;
  // Group scales and biases [rows][cols/group] as stored in the model (stored_kind).
  const void *scales, *biases;
  int stored_kind;
  const float* bias;  // the Linear bias [rows], or null
  float* y;           // y[i * y_stride + r]
  int64_t y_stride;
  // The AMX kernels' activations (16 inputs or more): per tile of 16 inputs
  // (the last padded with zeros) and group, the group's codes as the tile unit's right
  // operand — dword j of input t at byte 64·j + 4·t, dword j being the 4 bytes at
  // j·step + 4·lane of the group-lane order — then xs and gsum of the 16 inputs. Null
  // otherwise.
  const int8_t* tiles = nullptr;                         // [input tiles][groups][group / 4][16][4]
  const float *tile_xs = nullptr, *tile_gsum = nullptr;  // [input tiles][groups][16]
};

// rows4/rows8: y for weight rows [r0, r1) and every input row. quantize: one input row of
// `cols` into q [cols], xs and gsum [cols/group], ordered for weights of `bits`.
namespace avx2 {
void rows4(const Int8Rows& a, int64_t r0, int64_t r1);
void rows8(const Int8Rows& a, int64_t r0, int64_t r1);
void quantize(const float* x, int64_t cols, int64_t group, int bits, int8_t* q, float* xs, float* gsum);
}  // namespace avx2
namespace vnni {
void rows4(const Int8Rows& a, int64_t r0, int64_t r1);
void rows8(const Int8Rows& a, int64_t r0, int64_t r1);
void quantize(const float* x, int64_t cols, int64_t group, int bits, int8_t* q, float* xs, float* gsum);
}  // namespace vnni
// The VNNI kernels with the AMX tile unit when Int8Rows::tiles is set (the same bits as
// vnni's); the caller has been granted the tile state (kernel_choice).
// It codes its inputs with vnni::quantize (the same order).
namespace amx {
void rows4(const Int8Rows& a, int64_t r0, int64_t r1);
void rows8(const Int8Rows& a, int64_t r0, int64_t r1);
}  // namespace amx
// Inputs from which products take the AMX kernels.
constexpr int64_t kMinAmxInputs = 16;
// Inputs (and weight rows, and groups) of one AMX tile: Int8Rows::tiles' layout.
constexpr int64_t kAmxTile = 16;

}  // namespace mlxcpp::cpu
