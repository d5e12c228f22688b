#include "backend/cuda/kernels.cuh"
#include "backend/cuda/upload.cuh"

namespace mlxcpp::cuda {

uint64_t matrix_upload_bytes(const MatrixPlan& m) {
  // data, scales, biases and bias, each rounded up to the arena's alignment
  return m.data_bytes() + 2 * m.scale_bytes_total() + (m.bias ? uint64_t(m.rows) * 4 : 0) + 4 * kAlign;
}

std::vector<DevMatrix> upload_matrices(Arena& arena, const std::vector<MatrixPlan>& parts) {
  bool same = true;
  for (const auto& m : parts) same = same && m.same_format(parts.front());
  if (!same) {
    std::vector<DevMatrix> out;
    for (const auto& m : parts) out.push_back(upload_matrices(arena, {m}).front());
    return out;
  }
  const MatrixPlan& f = parts.front();
  if (f.cols % 8 != 0) throw std::runtime_error("a weight with " + std::to_string(f.cols) + " columns (not a multiple of 8)");
  DevMatrix d;
  d.cols = f.cols;
  d.kind = f.kind;
  d.bits = f.bits;
  d.group = f.group_size;
  d.scale_bytes = f.scale_bytes;
  d.scales_f16 = f.scales_f16;
  uint64_t data = 0, scales = 0;
  for (const auto& m : parts) d.rows += m.rows, data += m.data_bytes(), scales += m.scale_bytes_total();
  d.finish_layout();
  d.data = arena.take<uint8_t>(data);
  if (f.quantized()) d.scales = arena.take<uint8_t>(scales);
  if (f.kind == MatrixPlan::Kind::Affine) d.biases = arena.take<uint8_t>(scales);
  if (f.bias) d.bias = arena.take<float>(uint64_t(d.rows) * 4);
  uint64_t od = 0, os = 0, ob = 0;
  for (const auto& m : parts) {
    MLXCPP_CUDA_CHECK(cudaMemcpy(d.data + od, m.data, m.data_bytes(), cudaMemcpyHostToDevice));
    if (d.scales) MLXCPP_CUDA_CHECK(cudaMemcpy(d.scales + os, m.scales, m.scale_bytes_total(), cudaMemcpyHostToDevice));
    if (d.biases) MLXCPP_CUDA_CHECK(cudaMemcpy(d.biases + os, m.biases, m.scale_bytes_total(), cudaMemcpyHostToDevice));
    if (d.bias) MLXCPP_CUDA_CHECK(cudaMemcpy(d.bias + ob, m.bias, size_t(m.rows) * 4, cudaMemcpyHostToDevice));
    od += m.data_bytes(), os += m.scale_bytes_total(), ob += uint64_t(m.rows);
  }
  if (d.kind == MatrixPlan::Kind::Affine && d.bits == 4) {
    split_nibbles(d.data, int64_t(data), nullptr);
    MLXCPP_CUDA_CHECK(cudaDeviceSynchronize());
    d.nibbles_split = true;
  }
  return {d};
}

}  // namespace mlxcpp::cuda
