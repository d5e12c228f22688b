// The interface between the model and a device backend that runs the whole decoder with
// its weights resident on the device (today: CUDA). DecoderLM describes the model in a
// DecoderPlan; the backend uploads what it needs and runs forward passes. Plain C++17.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/decoder_plan.h"
#include "backend/token_draw.h"

namespace mlxcpp {

// A KV cache in device memory.
class DeviceKv {
 public:
  virtual ~DeviceKv() = default;
  // Grows to `capacity` positions, keeping the first `keep`.
  virtual void reserve(int64_t capacity, int64_t keep) = 0;
  virtual uint64_t bytes() const = 0;
};

class DeviceDecoder {
 public:
  virtual ~DeviceDecoder() = default;
  virtual std::unique_ptr<DeviceKv> new_kv(int64_t capacity) = 0;
  // Runs tokens[0..n) at positions start.. (their K/V appended to `kv`) and writes the
  // logits of the last token (all_logits false) or of every token to `logits`
  // ([n_out, vocab] floats). `inv_freq` holds the RoPE inverse frequencies (rope_dims/2)
  // for this call's total length. With `draw` (and not all_logits) the logits stay on the
  // device, the draw runs there (as draw_token in runtime/sampler.h) and *token receives
  // the token: sampling without copying the vocabulary's logits to the host.
  virtual void forward(const int32_t* tokens, int64_t n, int64_t start, const float* inv_freq, DeviceKv& kv,
                       float* logits, bool all_logits, const TokenDraw* draw = nullptr, int32_t* token = nullptr) = 0;
  // Whether forward() can carry out this draw (it holds a bounded number of logit edits).
  virtual bool can_draw(const TokenDraw& draw) const = 0;
  virtual std::string describe() const = 0;  // device name and what is resident
  virtual uint64_t resident_bytes() const = 0;
};

// One weight product on the device, for the op tests and benchmarks: the same kernels the
// decoder uses (matrix-vector up to 4 rows, dequantize + cuBLAS beyond).
class DeviceLinear {
 public:
  virtual ~DeviceLinear() = default;
  // y[n, rows] = x[n, cols] · Wᵀ (+ bias), host buffers.
  virtual void run(const float* x, int64_t n, float* y) = 0;
};
std::unique_ptr<DeviceLinear> make_cuda_linear(const MatrixPlan& weight, bool f32);

// The decoder's draw kernel alone, for its test: `logits` (host, [vocab]) to the device,
// the draw there, the token back.
class DeviceSampler {
 public:
  virtual ~DeviceSampler() = default;
  virtual int32_t draw(const float* logits, const TokenDraw& draw) = 0;
};
std::unique_ptr<DeviceSampler> make_cuda_sampler(int64_t vocab);

// Uploads the model described by `plan` to CUDA device 0. Throws mlxcpp::Error (through
// std::runtime_error) when the build has no CUDA, there is no GPU, or its free memory is
// short of what the model needs (the message gives both figures).
std::unique_ptr<DeviceDecoder> make_cuda_decoder(const DecoderPlan& plan);

}  // namespace mlxcpp
