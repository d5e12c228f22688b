#include "model/weight_binding.h"

#include "util/error.h"

namespace mlxcpp {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

WeightMatrix bind_weight_matrix(const WeightSet& ws, const ModelConfig& cfg, OwnedFloats& owned,
                                const std::string& module, int64_t rows, int64_t cols, bool with_bias) {
  WeightMatrix m;
  m.name = module;
  m.rows = rows;
  m.cols = cols;
  const TensorView w = ws.get(module + ".weight");
  const bool has_scales = ws.contains(module + ".scales");
  m.quant = cfg.quantization.spec_for(module, has_scales);
  auto expect_shape = [&](const TensorView& t, std::vector<int64_t> want) {
    if (t.shape() != want)
      fail("{}: tensor '{}' has shape {}, expected {}", ws.dir().string(), t.name(), shape_str(t.shape()),
           shape_str(want));
  };
  if (m.quant) {
    const QuantSpec& q = *m.quant;
    if (w.dtype() != DType::U32) fail("{}: quantized tensor '{}' must be U32", ws.dir().string(), w.name());
    if (cols % q.group_size != 0)
      fail("{}: '{}' has {} inputs, not a multiple of the group size {}", ws.dir().string(), module, cols,
           q.group_size);
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
  if (with_bias) m.bias = owned.add(load_vector(ws, module + ".bias", rows));
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
