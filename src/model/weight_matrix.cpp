#include "model/weight_matrix.h"

#include <cstring>

#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/int8_matmul.h"
#include "quant/affine.h"
#include "quant/bit_packing.h"
#include "quant/fp_formats.h"
#include "runtime/thread_pool.h"
#include "util/error.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

void WeightMatrix::dequantize_row(int64_t r, float* out) const {
  if (!quant) {
    convert_to_f32(dtype, data + size_t(r * cols) * dtype_size(dtype), out, size_t(cols));
    return;
  }
  const QuantSpec& q = *quant;
  const size_t groups = size_t(cols / q.group_size);
  const uint8_t* packed = data + size_t(r) * size_t(cols) * size_t(q.bits) / 8;
  if (q.mode != QuantMode::Affine) {
    fp_dequantize_row(packed, scales + size_t(r) * groups, size_t(cols), q.mode, out);
    return;
  }
  const size_t esz = dtype_size(dtype);
  const uint8_t* s = scales + size_t(r) * groups * esz;
  const uint8_t* b = biases + size_t(r) * groups * esz;
  for (size_t g = 0; g < groups; ++g) {
    const float scale = read_f32(dtype, s, g), bias = read_f32(dtype, b, g);
    const size_t k0 = g * size_t(q.group_size);
    for (size_t k = k0; k < k0 + size_t(q.group_size); ++k) out[k] = scale * float(unpack_bits(packed, k, q.bits)) + bias;
  }
}

void matmul_shared_input(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool,
                         Precision precision) {
  if (precision == Precision::Fast && cpu::int8_matmul_supported(products)) {
    cpu::int8_matmul(products, x, n, pool);
    return;
  }
  if (precision == Precision::Fast && cpu::bf16_matmul_supported(products)) {
    cpu::bf16_matmul(products, x, n, pool);
    return;
  }
  for (const Product& p : products) p.w->matmul(x, n, p.y, pool, precision);
}

void WeightMatrix::matmul(const float* x, int64_t n, float* y, ThreadPool& pool, Precision precision) const {
  const Product self{this, y};
  if (precision == Precision::Fast && cpu::int8_matmul_supported({&self, 1})) {
    cpu::int8_matmul({&self, 1}, x, n, pool);
    return;
  }
  if (precision == Precision::Fast && cpu::bf16_matmul_supported({&self, 1})) {
    cpu::bf16_matmul({&self, 1}, x, n, pool);
    return;
  }
  if (precision == Precision::Fast && cols % 32 == 0) {
    cpu::fast_matmul(*this, x, n, y, pool);
    return;
  }
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> w(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      dequantize_row(r, w.data());
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = x + i * cols;
        // Eight partial sums: deterministic, and close to a pairwise sum in accuracy.
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t k = 0;
        for (; k + 8 <= cols; k += 8)
          for (int j = 0; j < 8; ++j) acc[j] += w[size_t(k + j)] * xi[k + j];
        for (; k < cols; ++k) acc[0] += w[size_t(k)] * xi[k];
        float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        if (!bias.empty()) sum += bias[size_t(r)];
        y[i * rows + r] = sum;
      }
    }
  });
}

MatrixPlan to_matrix_plan(const WeightMatrix& w) {
  MatrixPlan m;
  m.rows = w.rows;
  m.cols = w.cols;
  m.data = w.data;
  m.scales = w.scales;
  m.biases = w.biases;
  m.bias = w.bias.empty() ? nullptr : w.bias.data();
  if (!w.quant) {
    m.kind = w.dtype == DType::F32 ? MatrixPlan::Kind::F32 : w.dtype == DType::F16 ? MatrixPlan::Kind::F16 : MatrixPlan::Kind::BF16;
    return m;
  }
  const QuantSpec& q = *w.quant;
  m.bits = q.bits;
  m.group_size = q.group_size;
  switch (q.mode) {
    case QuantMode::Affine:
      m.kind = MatrixPlan::Kind::Affine;
      m.scale_bytes = int(dtype_size(w.dtype));
      m.scales_f16 = w.dtype == DType::F16;
      break;
    case QuantMode::MxFp4: m.kind = MatrixPlan::Kind::MxFp4, m.scale_bytes = 1; break;
    case QuantMode::MxFp8: m.kind = MatrixPlan::Kind::MxFp8, m.scale_bytes = 1; break;
    case QuantMode::NvFp4: m.kind = MatrixPlan::Kind::NvFp4, m.scale_bytes = 1; break;
  }
  return m;
}

uint64_t WeightMatrix::bytes() const {
  if (!quant) return uint64_t(rows * cols) * dtype_size(dtype);
  const uint64_t groups = uint64_t(rows * cols / quant->group_size);
  const uint64_t sz = quant->mode == QuantMode::Affine ? dtype_size(dtype) : 1;
  return uint64_t(rows * cols) * uint64_t(quant->bits) / 8 + groups * sz * (quant->has_biases() ? 2 : 1);
}

WeightMatrix bind_weight_matrix(const WeightSet& ws, const ModelConfig& cfg, const std::string& module, int64_t rows,
                                int64_t cols, bool with_bias) {
  WeightMatrix m;
  m.name = module;
  m.rows = rows;
  m.cols = cols;
  const TensorView w = ws.get(module + ".weight");
  const bool has_scales = ws.contains(module + ".scales");
  m.quant = cfg.quantization.spec_for(module, has_scales);
  auto expect_shape = [&](const TensorView& t, std::vector<int64_t> want) {
    if (t.shape() != want)
      fail("{}: tensor '{}' has shape {}, expected {}", ws.dir().string(), t.name(), shape_str(t.shape()), shape_str(want));
  };
  if (m.quant) {
    const QuantSpec& q = *m.quant;
    if (w.dtype() != DType::U32) fail("{}: quantized tensor '{}' must be U32", ws.dir().string(), w.name());
    if (cols % q.group_size != 0)
      fail("{}: '{}' has {} inputs, not a multiple of the group size {}", ws.dir().string(), module, cols, q.group_size);
    expect_shape(w, {rows, cols * q.bits / 32});
    const TensorView s = ws.get(module + ".scales");
    expect_shape(s, {rows, cols / q.group_size});
    if (q.mode == QuantMode::Affine) {
      if (!dtype_is_float(s.dtype()) || dtype_size(s.dtype()) > 4)
        fail("{}: scales '{}' must be F32, F16 or BF16", ws.dir().string(), s.name());
      const TensorView b = ws.get(module + ".biases");
      expect_shape(b, {rows, cols / q.group_size});
      if (b.dtype() != s.dtype()) fail("{}: '{}' and its scales differ in dtype", ws.dir().string(), b.name());
      m.biases = b.data;
    } else if (s.dtype() != DType::U8) {
      fail("{}: scales '{}' of a {} weight must be U8", ws.dir().string(), s.name(), quant_mode_name(q.mode));
    }
    m.dtype = s.dtype();
    m.scales = s.data;
  } else {
    if (w.dtype() != DType::F32 && w.dtype() != DType::F16 && w.dtype() != DType::BF16)
      fail("{}: tensor '{}' has dtype {}, expected a float type", ws.dir().string(), w.name(), dtype_name(w.dtype()));
    expect_shape(w, {rows, cols});
    m.dtype = w.dtype();
  }
  m.data = w.data;
  if (with_bias) m.bias = load_vector(ws, module + ".bias", rows);
  return m;
}

std::vector<float> load_vector(const WeightSet& ws, const std::string& name, int64_t size) {
  const TensorView t = ws.get(name);
  if (t.shape() != std::vector<int64_t>{size})
    fail("{}: tensor '{}' has shape {}, expected [{}]", ws.dir().string(), name, shape_str(t.shape()), size);
  if (!dtype_is_float(t.dtype())) fail("{}: tensor '{}' must be a float type", ws.dir().string(), name);
  std::vector<float> v(static_cast<size_t>(size));
  convert_to_f32(t.dtype(), t.data, v.data(), v.size());
  return v;
}

}  // namespace mlxcpp
