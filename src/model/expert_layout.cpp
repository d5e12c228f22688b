#include "model/expert_layout.h"

#include <cstring>

#include "util/error.h"

namespace mlxcpp {

void StridedMatrix::read_row(int64_t r, float* out) const {
  const size_t es = dtype_size(tensor.dtype());
  const uint8_t* p = tensor.data + uint64_t(offset + r * row_stride) * es;
  if (col_stride == 1) {
    convert_to_f32(tensor.dtype(), p, out, size_t(cols));
    return;
  }
  for (int64_t c = 0; c < cols; ++c) convert_to_f32(tensor.dtype(), p + uint64_t(c * col_stride) * es, out + c, 1);
}

std::vector<uint8_t> StridedMatrix::copy_contiguous() const {
  const size_t es = dtype_size(tensor.dtype());
  std::vector<uint8_t> out(size_t(rows * cols) * es);
  uint8_t* dst = out.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c, dst += es)
      std::memcpy(dst, tensor.data + uint64_t(offset + r * row_stride + c * col_stride) * es, es);
  return out;
}

std::vector<float> StridedVector::read() const {
  const size_t es = dtype_size(tensor.dtype());
  std::vector<float> out(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i)
    convert_to_f32(tensor.dtype(), tensor.data + uint64_t(offset + i * stride) * es, &out[size_t(i)], 1);
  return out;
}

namespace {

TensorView float_tensor(const WeightSet& ws, const std::string& name) {
  const TensorView t = ws.get(name);
  if (!dtype_is_float(t.dtype()) || dtype_size(t.dtype()) > 4)
    fail("{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", ws.dir().string(), name, dtype_name(t.dtype()));
  return t;
}

void expect_shape(const WeightSet& ws, const TensorView& t, const std::vector<std::vector<int64_t>>& allowed) {
  for (const auto& s : allowed)
    if (t.shape() == s) return;
  std::string want;
  for (const auto& s : allowed) want += (want.empty() ? "" : " or ") + shape_to_string(s);
  fail("{}: tensor '{}' has shape {}, expected {}", ws.dir().string(), t.name(), shape_to_string(t.shape()), want);
}

}  // namespace

std::optional<FusedExperts> find_fused_experts(const WeightSet& ws, const std::string& moe, int64_t E, int64_t H,
                                               int64_t F, bool interleaved) {
  const std::string gate_up_name = moe + "experts.gate_up_proj", down_name = moe + "experts.down_proj";
  if (!ws.contains(gate_up_name)) return std::nullopt;
  const TensorView gate_up = float_tensor(ws, gate_up_name), down = float_tensor(ws, down_name);
  // Orientation from gate_up's shape ([E, H, 2F]: transposed, as gpt_oss saves it); where
  // H == 2F the shape cannot tell, and the architecture's own layout is taken.
  expect_shape(ws, gate_up, {{E, 2 * F, H}, {E, H, 2 * F}});
  const bool transposed = H == 2 * F ? interleaved : gate_up.shape()[1] == H;
  expect_shape(ws, down, {transposed ? std::vector<int64_t>{E, F, H} : std::vector<int64_t>{E, H, F}});
  FusedExperts f;
  f.tensors = {gate_up_name, down_name};
  for (int64_t e = 0; e < E; ++e) {
    const int64_t base = e * 2 * F * H;
    // gate/up element (i, h): gate_up[e, i', h] or, transposed, gate_up[e, h, i'], where i'
    // is 2i (+1 for up) interleaved, i (+F for up) concatenated.
    const int64_t step = interleaved ? 2 : 1, up_shift = interleaved ? 1 : F;
    const int64_t row_stride = transposed ? step : step * H, col_stride = transposed ? 2 * F : 1;
    const int64_t up_offset = transposed ? up_shift : up_shift * H;
    f.gate.weights.push_back({gate_up, F, H, base, row_stride, col_stride});
    f.up.weights.push_back({gate_up, F, H, base + up_offset, row_stride, col_stride});
    f.down.weights.push_back(transposed ? StridedMatrix{down, H, F, e * F * H, 1, H}
                                        : StridedMatrix{down, H, F, e * F * H, F, 1});
  }
  if (ws.contains(gate_up_name + "_bias")) {
    const TensorView gb = float_tensor(ws, gate_up_name + "_bias"), db = float_tensor(ws, down_name + "_bias");
    expect_shape(ws, gb, {{E, 2 * F}});
    expect_shape(ws, db, {{E, H}});
    f.tensors.insert(f.tensors.end(), {gb.name(), db.name()});
    for (int64_t e = 0; e < E; ++e) {
      f.gate.biases.push_back({gb, F, e * 2 * F, interleaved ? 2 : 1});
      f.up.biases.push_back({gb, F, e * 2 * F + (interleaved ? 1 : F), interleaved ? 2 : 1});
      f.down.biases.push_back({db, H, e * H, 1});
    }
  }
  return f;
}

}  // namespace mlxcpp
