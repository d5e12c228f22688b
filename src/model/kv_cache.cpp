#include "model/kv_cache.h"

#include <algorithm>

#include "quant/quantize_tensor.h"
#include "util/error.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

constexpr int64_t kMaxQuantizedHeadDim = 512;  // rows are dequantized on the stack
constexpr int64_t kTile = cpu::kKeyTile;

int64_t whole_tiles(int64_t positions) { return (positions + kTile - 1) / kTile * kTile; }

// The layout is [kv_head][position][row]: each head's rows move to their new offset.
template <typename T>
void grow(std::vector<std::vector<T>>& planes, int64_t kv_heads, size_t row, int64_t old_cap, int64_t new_cap,
          int64_t length) {
  for (auto& plane : planes) {
    std::vector<T> bigger(size_t(kv_heads * new_cap) * row);
    for (int64_t h = 0; h < kv_heads; ++h)
      std::copy_n(plane.begin() + std::ptrdiff_t(size_t(h * old_cap) * row), size_t(length) * row,
                  bigger.begin() + std::ptrdiff_t(size_t(h * new_cap) * row));
    plane.swap(bigger);
  }
}

template <typename T>
void release(std::vector<std::vector<T>>& planes) {
  std::vector<std::vector<T>>().swap(planes);
}

}  // namespace

void validate_kv_quantization(const KvQuantization& q, int64_t head_dim) {
  if (q.start < 0) fail("quantized_kv_start must be >= 0, got {}", q.start);
  if (!q.bits) return;
  const bool bits_ok = q.bits == 2 || q.bits == 3 || q.bits == 4 || q.bits == 5 || q.bits == 6 || q.bits == 8;
  if (!bits_ok) fail("kv_bits must be 2, 3, 4, 5, 6 or 8, got {}", q.bits);
  if (q.group <= 0 || head_dim % q.group != 0)
    fail("kv_group_size {} does not divide the head dimension {} of this model", q.group, head_dim);
  if (head_dim * q.bits % 32 != 0)  // MLX packs codes into 32-bit words
    fail("kv_bits {}: a head of {} values does not fill whole 32-bit words", q.bits, head_dim);
  if (head_dim > kMaxQuantizedHeadDim) fail("kv_bits: head dimension {} is larger than {}", head_dim, kMaxQuantizedHeadDim);
}

KVCache::KVCache(int64_t layers_, int64_t kv_heads_, int64_t head_dim_, int64_t capacity_, KvDtype dtype_,
                 KvQuantization quantization)
    : layers(layers_), kv_heads(kv_heads_), head_dim(head_dim_), capacity(capacity_), dtype(dtype_),
      slots_(whole_tiles(capacity_)), quant_(quantization) {
  validate_kv_quantization(quant_, head_dim);
  allocate_float();
}

KVCache::KVCache(int64_t layers_, int64_t kv_heads_, int64_t head_dim_, int64_t capacity_, std::unique_ptr<DeviceKv> on_device)
    : layers(layers_), kv_heads(kv_heads_), head_dim(head_dim_), capacity(capacity_), device(std::move(on_device)) {}

void KVCache::allocate_float() {
  const size_t plane = size_t(kv_heads * slots_ * head_dim);
  if (dtype == KvDtype::F32) {
    k32_.assign(size_t(layers), std::vector<float>(plane));
    v32_.assign(size_t(layers), std::vector<float>(plane));
  } else {
    k16_.assign(size_t(layers), std::vector<uint16_t>(plane));
    v16_.assign(size_t(layers), std::vector<uint16_t>(plane));
  }
}

namespace {

DType scales_dtype(KvDtype d) { return d == KvDtype::F32 ? DType::F32 : DType::BF16; }

}  // namespace

void KVCache::quantize_rows(int64_t upto) {
  const size_t codes = code_bytes(), groups = scale_bytes();
  const size_t rows = size_t(kv_heads * slots_);
  for (auto* planes : {&kq_, &vq_}) planes->assign(size_t(layers), std::vector<uint8_t>(rows * codes));
  for (auto* planes : {&ks_, &kb_, &vs_, &vb_}) planes->assign(size_t(layers), std::vector<uint8_t>(rows * groups));
  float k[kMaxQuantizedHeadDim], v[kMaxQuantizedHeadDim];
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t h = 0; h < kv_heads; ++h)
      for (int64_t p = 0; p < upto; ++p) {
        read_float(true, l, h, p, k);
        read_float(false, l, h, p, v);
        quantize_row(l, h, p, k, v);
      }
  release(k32_), release(v32_), release(k16_), release(v16_);
  quantized_ = true;
}

void KVCache::quantize_row(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v) {
  const QuantSpec spec{QuantMode::Affine, quant_.bits, quant_.group};
  const DType sd = scales_dtype(dtype);
  const size_t row = size_t(head * slots_ + pos), codes = code_bytes(), groups = scale_bytes();
  // The values the float cache would hold (bf16 for the fast path), then mx.quantize of them.
  float kr[kMaxQuantizedHeadDim], vr[kMaxQuantizedHeadDim];
  for (int64_t d = 0; d < head_dim; ++d) {
    kr[d] = dtype == KvDtype::F32 ? k[d] : bf16_to_f32(f32_to_bf16(k[d]));
    vr[d] = dtype == KvDtype::F32 ? v[d] : bf16_to_f32(f32_to_bf16(v[d]));
  }
  const size_t l = size_t(layer);
  quantize_matrix(kr, 1, size_t(head_dim), spec, sd, &kq_[l][row * codes], &ks_[l][row * groups], &kb_[l][row * groups]);
  quantize_matrix(vr, 1, size_t(head_dim), spec, sd, &vq_[l][row * codes], &vs_[l][row * groups], &vb_[l][row * groups]);
}

void KVCache::dequantized(const std::vector<std::vector<uint8_t>>& codes, const std::vector<std::vector<uint8_t>>& scales,
                          const std::vector<std::vector<uint8_t>>& biases, int64_t layer, int64_t head, int64_t pos,
                          int64_t count, float* out) const {
  const size_t row = size_t(head * slots_ + pos), l = size_t(layer), cb = code_bytes(), sb = scale_bytes();
  dequantize_matrix(&codes[l][row * cb], &scales[l][row * sb], &biases[l][row * sb], size_t(count),
                    size_t(head_dim), {QuantMode::Affine, quant_.bits, quant_.group}, scales_dtype(dtype), out);
}

void KVCache::read_float(bool key, int64_t layer, int64_t head, int64_t pos, float* out) const {
  const size_t o = key ? key_offset(head, pos) : offset(head, pos), step = key ? size_t(kTile) : 1, l = size_t(layer);
  for (int64_t d = 0; d < head_dim; ++d) {
    const size_t i = o + size_t(d) * step;
    out[d] = dtype == KvDtype::F32 ? (key ? k32_ : v32_)[l][i] : bf16_to_f32((key ? k16_ : v16_)[l][i]);
  }
}

void KVCache::store(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v) {
  if (quantized_) return quantize_row(layer, head, pos, k, v);
  const size_t o = offset(head, pos), ko = key_offset(head, pos), l = size_t(layer);
  for (int64_t d = 0; d < head_dim; ++d) {
    const size_t kd = ko + size_t(d * kTile), vd = o + size_t(d);
    if (dtype == KvDtype::F32) {
      k32_[l][kd] = k[d];
      v32_[l][vd] = v[d];
    } else {
      k16_[l][kd] = f32_to_bf16(k[d]);
      v16_[l][vd] = f32_to_bf16(v[d]);
    }
  }
}

KVCache::Span KVCache::key_tile(int64_t layer, int64_t head, int64_t tile, float* scratch) const {
  const size_t l = size_t(layer);
  if (!quantized_) {
    const size_t o = key_offset(head, tile * kTile);
    if (dtype == KvDtype::F32) return {&k32_[l][o], false};
    return {&k16_[l][o], true};
  }
  float row[kMaxQuantizedHeadDim];
  for (int64_t j = 0; j < kTile; ++j) {
    dequantized(kq_, ks_, kb_, layer, head, tile * kTile + j, 1, row);
    for (int64_t d = 0; d < head_dim; ++d) scratch[d * kTile + j] = row[d];
  }
  return {scratch, false};
}

KVCache::Span KVCache::values(int64_t layer, int64_t head, int64_t pos, int64_t count, float* scratch) const {
  const size_t l = size_t(layer), o = offset(head, pos);
  if (!quantized_) {
    if (dtype == KvDtype::F32) return {&v32_[l][o], false};
    return {&v16_[l][o], true};
  }
  dequantized(vq_, vs_, vb_, layer, head, pos, count, scratch);
  return {scratch, false};
}

void KVCache::quantize_if_due() {
  if (quant_.bits && !quantized_ && length > quant_.start) quantize_rows(length);
}

void KVCache::reset() {
  length = 0;
  if (!quantized_) return;
  for (auto* planes : {&kq_, &vq_, &ks_, &kb_, &vs_, &vb_}) release(*planes);
  quantized_ = false;
  allocate_float();
}

uint64_t KVCache::bytes() const {
  if (device) return device->bytes();
  const uint64_t rows = uint64_t(2 * layers * kv_heads * slots_);
  if (quantized_) return rows * uint64_t(code_bytes() + 2 * scale_bytes());
  return rows * uint64_t(head_dim) * value_bytes();
}

void KVCache::reserve(int64_t n) {
  if (n <= capacity) return;
  if (device) {
    device->reserve(n, length);
    capacity = n;
    return;
  }
  const int64_t slots = whole_tiles(n);
  const size_t hd = size_t(head_dim);
  // K moves whole tiles ([tile][head_dim][16] per head), V and quantized rows by position.
  grow(k32_, kv_heads, hd * kTile, slots_ / kTile, slots / kTile, whole_tiles(length) / kTile);
  grow(k16_, kv_heads, hd * kTile, slots_ / kTile, slots / kTile, whole_tiles(length) / kTile);
  grow(v32_, kv_heads, hd, slots_, slots, length);
  grow(v16_, kv_heads, hd, slots_, slots, length);
  if (quantized_) {
    const size_t codes = code_bytes(), groups = scale_bytes();
    grow(kq_, kv_heads, codes, slots_, slots, length);
    grow(vq_, kv_heads, codes, slots_, slots, length);
    for (auto* planes : {&ks_, &kb_, &vs_, &vb_}) grow(*planes, kv_heads, groups, slots_, slots, length);
  }
  slots_ = slots;
  capacity = n;
}

}  // namespace mlxcpp
