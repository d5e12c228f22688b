#include "convert/mlx_writer.h"

#include <unistd.h>

#include <fmt/format.h>

#include <mutex>

#include "format/quant_config.h"
#include "format/safetensors_writer.h"
#include "quant/quantize_tensor.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace fs = std::filesystem;

namespace {

constexpr size_t kChunkElements = size_t(1) << 20;  // bounds the float32 scratch per worker

size_t rows_of(const std::vector<int64_t>& shape) {
  size_t r = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) r *= size_t(shape[i]);
  return r;
}

size_t cols_of(const std::vector<int64_t>& shape) { return shape.empty() ? 1 : size_t(shape.back()); }

// Cast to the target dtype before quantizing, as mlx_lm.convert does.
void round_through(DType dtype, float* v, size_t n) {
  if (dtype == DType::F32) return;
  for (size_t i = 0; i < n; ++i) v[i] = round_to_dtype(dtype, v[i]);
}

struct Unit {  // one job of the writer: a float tensor or a quantized triplet
  const FloatSource* src;
  std::optional<QuantSpec> quant;
  std::vector<SafetensorsWriter::Decl> decls;
  uint64_t bytes = 0;
  int64_t parameters = 0;
};

}  // namespace

bool is_quantizable(const FloatSource& t, const QuantSpec& spec) {
  return t.name.ends_with(".weight") && t.shape.size() >= 2 && t.shape.back() % spec.group_size == 0;
}

MlxWriteResult write_mlx_model(const std::vector<FloatSource>& tensors, nlohmann::json config,
                               const MlxWriteOptions& options, const fs::path& dir) {
  if (options.dtype != DType::F32 && options.dtype != DType::F16 && options.dtype != DType::BF16)
    fail("convert: dtype must be float32, float16 or bfloat16");
  MlxWriteResult result;
  std::vector<Unit> units;
  for (const auto& t : tensors) {
    Unit u{&t, std::nullopt, {}, 0, 0};
    const std::string module = t.name.ends_with(".weight") ? t.name.substr(0, t.name.size() - 7) : t.name;
    const auto override_spec = options.quant_overrides.find(module);
    const std::optional<QuantSpec> spec =
        options.quant && override_spec != options.quant_overrides.end() ? override_spec->second : options.quant;
    if (spec && is_quantizable(t, *spec)) {
      const QuantSpec& q = *spec;
      const QuantizedLayout l = quantized_layout(t.shape, q, options.dtype, t.name);
      u.quant = q;
      u.decls.push_back({t.name, DType::U32, l.weight_shape});
      u.decls.push_back({module + ".scales", l.scales_dtype, l.scales_shape});
      if (q.has_biases()) u.decls.push_back({module + ".biases", l.scales_dtype, l.scales_shape});
      ++result.quantized_tensors;
    } else {
      u.decls.push_back({t.name, options.dtype, t.shape});
    }
    u.parameters = int64_t(rows_of(t.shape) * cols_of(t.shape));
    for (const auto& d : u.decls) {
      uint64_t n = dtype_size(d.dtype);
      for (int64_t x : d.shape) n *= uint64_t(x);
      u.bytes += n;
    }
    result.total_bytes += u.bytes;
    result.total_parameters += u.parameters;
    units.push_back(std::move(u));
  }
  std::sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) { return a.src->name < b.src->name; });

  // Greedy sharding in name order, as mlx-lm fills shards in parameter order.
  std::vector<std::vector<const Unit*>> shards(1);
  uint64_t in_shard = 0;
  for (const auto& u : units) {
    if (in_shard > 0 && in_shard + u.bytes > options.max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&u);
    in_shard += u.bytes;
  }
  result.shards = int(shards.size());

  nlohmann::json weight_map = nlohmann::json::object();
  std::mutex progress_mu;
  size_t written = 0;
  const auto tensor_done = [&] {
    if (!options.on_tensor) return;
    std::lock_guard lock(progress_mu);
    options.on_tensor(++written, units.size());
  };
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string file = shards.size() == 1
                                 ? std::string("model.safetensors")
                                 : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards.size());
    SafetensorsWriter writer;
    writer.set_metadata("format", "mlx");
    for (const Unit* u : shards[s]) {
      for (const auto& d : u->decls) weight_map[d.name] = file;
      const DType dtype = options.dtype;
      writer.add_group(u->decls, [u, dtype, &tensor_done](std::vector<std::span<uint8_t>> dst) {
        const FloatSource& src = *u->src;
        const size_t rows = rows_of(src.shape), cols = cols_of(src.shape);
        const size_t chunk = std::max<size_t>(1, kChunkElements / std::max<size_t>(cols, 1));
        std::vector<float> buf(std::min(rows, chunk) * cols);
        for (size_t r = 0; r < rows; r += chunk) {
          const size_t n = std::min(chunk, rows - r);
          src.read_rows(r, n, buf.data());
          if (!u->quant) {
            convert_from_f32(dtype, buf.data(), dst[0].data() + r * cols * dtype_size(dtype), n * cols);
            continue;
          }
          const QuantSpec& q = *u->quant;
          round_through(dtype, buf.data(), n * cols);
          const DType sdt = q.mode == QuantMode::Affine ? dtype : DType::U8;
          const size_t groups = cols / size_t(q.group_size);
          quantize_matrix(buf.data(), n, cols, q, dtype, dst[0].data() + r * cols * size_t(q.bits) / 8,
                          dst[1].data() + r * groups * dtype_size(sdt),
                          q.has_biases() ? dst[2].data() + r * groups * dtype_size(sdt) : nullptr);
        }
        tensor_done();
      });
    }
    writer.write(dir / file, options.threads);
  }

  nlohmann::json index;
  index["metadata"] = {{"total_size", result.total_bytes}, {"total_parameters", result.total_parameters}};
  index["weight_map"] = weight_map;
  write_file_atomic(dir / "model.safetensors.index.json", index.dump(4));

  config.erase("_name_or_path");
  config.erase("vision_config");
  config.erase("quantization");
  config.erase("quantization_config");
  if (options.quant) {
    QuantizationConfig q;
    q.global = options.quant;
    for (const auto& [module, spec] : options.quant_overrides) q.overrides[module] = spec;
    config["quantization"] = quantization_to_json(q);
    config["quantization_config"] = config["quantization"];
  }
  write_file_atomic(dir / "config.json", config.dump(4));
  return result;
}

void build_directory_atomically(const fs::path& dst, const std::function<void(const fs::path&)>& build) {
  if (fs::exists(dst)) fail("{}: already exists; choose a new output directory", dst.string());
  const fs::path parent = dst.has_parent_path() ? dst.parent_path() : fs::path(".");
  if (!fs::is_directory(parent)) fail("{}: parent directory does not exist", dst.string());
  const fs::path tmp = parent / fmt::format(".{}.partial-{}", dst.filename().string(), ::getpid());
  fs::remove_all(tmp);
  fs::create_directory(tmp);
  try {
    build(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, dst, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    fail("{}: cannot move the finished model into place: {}", dst.string(), ec.message());
  }
}

}  // namespace mlxcpp
