// linear(): the one entry point for every weight product. Decode rows use the
// matrix-vector kernels (gemv.cu, any number of rows in tiles); a prefill chunk
// dequantizes the weight a tile of rows at a time into bf16 (or f32 for the reference
// precision) and hands the product to cuBLAS, whose tensor-core kernels are the better
// tool for it. The caller says which (Product), per sequence, so that a sequence's rows
// take the same path alone and in a batch.
#include <algorithm>
#include <string>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cublas_loader.h"
#include "backend/cuda/gemv.cuh"

namespace mlxcpp::cuda {
namespace {

[[noreturn]] void throw_cublas(cublasStatus_t s, const char* what) {
  throw std::runtime_error(std::string("cuBLAS: ") + what + " failed with status " + std::to_string(int(s)));
}

// out[r - r0, :] = W[r, :] for r in [r0, r0 + rows): blockIdx.y is the row, threads take
// 8-element units, each written with one 16-byte (bf16) or two (f32) stores.
template <typename T>
__global__ void dequantize_tile(DevMatrix m, int64_t r0, T* out) {
  griddep_wait();  // the tile may still be read by the previous product
  const int units = int(m.cols / 8);
  const int u = int(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= units) return;
  const int64_t r = blockIdx.y;
  float w[8];
  load8(m, r0 + r, u, w);
  T* o = out + r * m.cols + int64_t(u) * 8;
  if constexpr (sizeof(T) == 2) {
    uint32_t packed[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const __nv_bfloat162 two = __floats2bfloat162_rn(w[2 * k], w[2 * k + 1]);
      packed[k] = *reinterpret_cast<const uint32_t*>(&two);
    }
    *reinterpret_cast<uint4*>(o) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
  } else {
    reinterpret_cast<float4*>(o)[0] = make_float4(w[0], w[1], w[2], w[3]);
    reinterpret_cast<float4*>(o)[1] = make_float4(w[4], w[5], w[6], w[7]);
  }
}

__global__ void to_bf16(const float* x, int64_t count, __nv_bfloat16* out) {
  griddep_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = __float2bfloat16(x[i]);
}

// One warp per block of 32 values: the int8 codes and (d, the coded values' sum).
__global__ void quantize_blocks(const float* x, int64_t blocks, int8_t* xq, float2* xd) {
  griddep_wait();
  const int64_t b = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (b >= blocks) return;
  quantize_warp_block(x[b * 32 + lane], &xq[b * 32 + lane], &xd[b]);
}

__global__ void split_nibbles_kernel(uint32_t* words, int64_t count) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const uint32_t w = words[i];
  uint32_t out = 0;
#pragma unroll
  for (int b = 0; b < 4; ++b) {
    out |= ((w >> (4 * b)) & 15u) << (8 * b);
    out |= ((w >> (4 * (b + 4))) & 15u) << (8 * b + 4);
  }
  words[i] = out;
}

__global__ void add_bias_kernel(float* y, int n, int64_t rows, int64_t y_stride, const float* bias) {
  griddep_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(n) * rows) return;
  y[(i / rows) * y_stride + i % rows] += bias[i % rows];
}

void gemm(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, bool f32, MatmulScratch& s,
          cudaStream_t st) {
  MLXCPP_CUDA_CHECK(cudaGetLastError());
  cublasStatus_t cs = blas::set_stream(s.cublas, st);
  if (cs != CUBLAS_STATUS_SUCCESS) throw_cublas(cs, "cublasSetStream");
  const void* b = x;
  if (!f32) {
    const int64_t count = int64_t(n) * m.cols;
    if (count > s.x_elems) throw std::runtime_error("matmul: activation scratch too small");
    launch(to_bf16, ceil_div(count, 256), 256, 0, st, x, count, static_cast<__nv_bfloat16*>(s.xconv));
    b = s.xconv;
  }
  const int64_t tile_rows = std::min(std::min(m.rows, s.tile_elems / m.cols), int64_t(65535));  // grid.y limit
  if (tile_rows <= 0) throw std::runtime_error("matmul: weight tile scratch too small");
  const float one = 1.0f, zero = 0.0f;
  for (int64_t r0 = 0; r0 < m.rows; r0 += tile_rows) {
    const int64_t rows = std::min(tile_rows, m.rows - r0);
    const dim3 grid(ceil_div(m.cols / 8, 128), unsigned(rows));
    if (f32) launch(dequantize_tile<float>, grid, 128, 0, st, m, r0, static_cast<float*>(s.tile));
    else launch(dequantize_tile<__nv_bfloat16>, grid, 128, 0, st, m, r0, static_cast<__nv_bfloat16*>(s.tile));
    MLXCPP_CUDA_CHECK(cudaGetLastError());
    // Column-major view: Yᵀ[rows, n] = Wtileᵀ-as-stored[cols, rows]ᵀ · Xᵀ[cols, n].
    const cudaDataType_t t = f32 ? CUDA_R_32F : CUDA_R_16BF;
    cs = blas::gemm_ex(s.cublas, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), n, int(m.cols), &one, s.tile, t, int(m.cols), b, t,
                      int(m.cols), &zero, y + r0, CUDA_R_32F, int(y_stride), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (cs != CUBLAS_STATUS_SUCCESS) throw_cublas(cs, "cublasGemmEx");
  }
  if (m.bias) add_bias(y, n, m.rows, y_stride, m.bias, st);
}

}  // namespace

void add_bias(float* y, int n, int64_t rows, int64_t y_stride, const float* bias, cudaStream_t st) {
  launch(add_bias_kernel, ceil_div(int64_t(n) * rows, 256), 256, 0, st, y, n, rows, y_stride, bias);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void split_nibbles(uint8_t* data, int64_t bytes, cudaStream_t st) {
  const int64_t words = bytes / 4;
  split_nibbles_kernel<<<ceil_div(words, 256), 256, 0, st>>>(reinterpret_cast<uint32_t*>(data), words);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void linear(const DevMatrix& m, XIn x, int n, float* y, int64_t y_stride, bool f32, MatmulScratch& s, cudaStream_t st,
            Product product) {
  if (product == Product::Gemm || (product == Product::Auto && n > kMaxGemvRows))
    return gemm(m, x.x, n, y, y_stride, f32, s, st);
  if (!f32 && s.tensor_core_rows > 0 && n >= s.tensor_core_rows && tensor_core_eligible(m))
    return gemm_tensor_cores(m, x.x, n, y, y_stride, s, st);
  if (f32 || !dp4a_eligible(m)) return gemv_f32(m, x.x, n, y, y_stride, st);
  if (!x.xq) {  // the producer did not quantize its output: once here, for every row block
    const int64_t blocks = int64_t(n) * m.cols / 32;
    if (blocks > s.xd_blocks) throw std::runtime_error("matmul: activation scratch too small");
    launch(quantize_blocks, ceil_div(blocks * 32, 256), 256, 0, st, x.x, blocks, static_cast<int8_t*>(s.xconv), s.xd);
    x.xq = static_cast<const int8_t*>(s.xconv);
    x.xd = s.xd;
  }
  if (n >= kMinInt8MmaRows && int8_mma_eligible(m)) return gemm_int8_mma(m, x.xq, x.xd, n, y, y_stride, st);
  gemv_int8(m, x.xq, x.xd, n, y, y_stride, st);
}

}  // namespace mlxcpp::cuda
