#include "model/weight_binding.h"

#include <fmt/format.h>

#include "util/error.h"

namespace mlxcpp {
namespace {

// `module`.weight (with .scales/.biases when quantized, .bias if `with_bias`) as `count`
// matrices [rows, cols] stacked along a leading dimension (count 0: one 2-D matrix).
std::vector<WeightMatrix> bind_matrices(const WeightSet& ws, const ModelConfig& cfg, OwnedData& owned,
                                        const std::string& module, int64_t count, int64_t rows, int64_t cols,
                                        bool with_bias) {
  const TensorView w = ws.get(module + ".weight");
  const bool has_scales = ws.contains(module + ".scales");
  const std::optional<QuantSpec> quant = cfg.quantization.spec_for(module, has_scales);
  auto shape = [&](std::vector<int64_t> s) {
    if (count > 0) s.insert(s.begin(), count);
    return s;
  };
  auto expect_shape = [&](const TensorView& t, std::vector<int64_t> want) {
    if (t.shape() != shape(want))
      fail("{}: tensor '{}' has shape {}, expected {}", ws.dir().string(), t.name(), shape_to_string(t.shape()),
           shape_to_string(shape(want)));
  };
  WeightMatrix m;
  m.name = module;
  m.rows = rows;
  m.cols = cols;
  m.quant = quant;
  uint64_t data_stride = 0, scale_stride = 0;  // bytes from one stacked matrix to the next
  if (quant) {
    const QuantSpec& q = *quant;
    if (w.dtype() != DType::U32) fail("{}: quantized tensor '{}' must be U32", ws.dir().string(), w.name());
    if (cols % q.group_size != 0)
      fail("{}: '{}' has {} inputs, not a multiple of the group size {}", ws.dir().string(), module, cols,
           q.group_size);
    expect_shape(w, {rows, cols * q.bits / 32});
    const TensorView sc = ws.get(module + ".scales");
    expect_shape(sc, {rows, cols / q.group_size});
    if (q.mode == QuantMode::Affine) {
      if (!dtype_is_float(sc.dtype()) || dtype_size(sc.dtype()) > 4)
        fail("{}: scales '{}' must be F32, F16 or BF16", ws.dir().string(), sc.name());
      const TensorView b = ws.get(module + ".biases");
      expect_shape(b, {rows, cols / q.group_size});
      if (b.dtype() != sc.dtype()) fail("{}: '{}' and its scales differ in dtype", ws.dir().string(), b.name());
      m.biases = b.data;
    } else if (sc.dtype() != DType::U8) {
      fail("{}: scales '{}' of a {} weight must be U8", ws.dir().string(), sc.name(), quant_mode_name(q.mode));
    }
    m.dtype = sc.dtype();
    m.scales = sc.data;
    data_stride = uint64_t(rows * cols * q.bits / 8);
    scale_stride = uint64_t(rows * (cols / q.group_size)) * dtype_size(sc.dtype());
  } else {
    if (w.dtype() != DType::F32 && w.dtype() != DType::F16 && w.dtype() != DType::BF16)
      fail("{}: tensor '{}' has dtype {}, expected a float type", ws.dir().string(), w.name(), dtype_name(w.dtype()));
    expect_shape(w, {rows, cols});
    m.dtype = w.dtype();
    data_stride = uint64_t(rows * cols) * dtype_size(w.dtype());
  }
  m.data = w.data;
  std::vector<float> bias;
  if (with_bias) bias = load_vector(ws, module + ".bias", count > 0 ? count * rows : rows, shape({rows}));
  std::vector<WeightMatrix> out;
  for (int64_t e = 0; e < std::max<int64_t>(count, 1); ++e) {
    WeightMatrix v = m;
    v.data += uint64_t(e) * data_stride;
    if (v.scales) v.scales += uint64_t(e) * scale_stride;
    if (v.biases) v.biases += uint64_t(e) * scale_stride;
    if (with_bias) v.bias = owned.add(std::vector<float>(bias.begin() + e * rows, bias.begin() + (e + 1) * rows));
    if (count > 0) v.name = fmt::format("{}[{}]", module, e);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

WeightMatrix bind_weight_matrix(const WeightSet& ws, const ModelConfig& cfg, OwnedData& owned,
                                const std::string& module, int64_t rows, int64_t cols, bool with_bias) {
  return bind_matrices(ws, cfg, owned, module, 0, rows, cols, with_bias).front();
}

std::vector<WeightMatrix> bind_expert_matrices(const WeightSet& ws, const ModelConfig& cfg, OwnedData& owned,
                                               const std::string& stacked,
                                               const std::function<std::string(int64_t)>& per_expert,
                                               int64_t experts, int64_t rows, int64_t cols, bool with_bias) {
  if (ws.contains(stacked + ".weight")) return bind_matrices(ws, cfg, owned, stacked, experts, rows, cols, with_bias);
  if (!ws.contains(per_expert(0) + ".weight"))
    fail("{}: no tensor '{}.weight' (MLX's stacked experts) nor '{}.weight' (one per expert)", ws.dir().string(),
         stacked, per_expert(0));
  std::vector<WeightMatrix> out;
  for (int64_t e = 0; e < experts; ++e) out.push_back(bind_weight_matrix(ws, cfg, owned, per_expert(e), rows, cols, with_bias));
  return out;
}

std::vector<WeightMatrix> bind_fused_expert_matrices(OwnedData& owned, const ExpertProjection& projection,
                                                     const std::string& name) {
  std::vector<WeightMatrix> out;
  for (size_t e = 0; e < projection.weights.size(); ++e) {
    const StridedMatrix& s = projection.weights[e];
    WeightMatrix m;
    m.name = fmt::format("{}[{}]", name, e);
    m.rows = s.rows;
    m.cols = s.cols;
    m.dtype = s.tensor.dtype();
    m.data = s.contiguous() ? s.start() : owned.add(s.copy_contiguous());
    if (!projection.biases.empty()) m.bias = owned.add(projection.biases[e].read());
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<float> load_vector(const WeightSet& ws, const std::string& name, int64_t size,
                               const std::vector<int64_t>& shape) {
  const TensorView t = ws.get(name);
  const std::vector<int64_t> want = shape.empty() ? std::vector<int64_t>{size} : shape;
  if (t.shape() != want)
    fail("{}: tensor '{}' has shape {}, expected {}", ws.dir().string(), name, shape_to_string(t.shape()), shape_to_string(want));
  if (!dtype_is_float(t.dtype())) fail("{}: tensor '{}' must be a float type", ws.dir().string(), name);
  std::vector<float> v(static_cast<size_t>(size));
  convert_to_f32(t.dtype(), t.data, v.data(), v.size());
  return v;
}

}  // namespace mlxcpp
