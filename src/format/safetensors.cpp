#include "format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 8;  // a valid header nests 3 deep
constexpr size_t kMaxRank = 16;

json parse_header_json(const char* text, size_t len, const std::string& label) {
  if (len == 0 || text[0] != '{')
    fail("{}: safetensors header does not start with '{{' (not a safetensors file?)", label);
  std::set<std::string> seen;
  // The callback rejects deep nesting and duplicate tensor names, which a plain parse
  // would accept silently (keeping the last duplicate).
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxJsonDepth) fail("{}: safetensors header nests deeper than {}", label, kMaxJsonDepth);
    if (event == json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second) fail("{}: tensor '{}' is declared twice in the header", label, key);
    }
    return true;
  };
  try {
    return json::parse(text, text + len, callback);
  } catch (const json::exception& e) {
    fail("{}: safetensors header is not valid JSON: {}", label, json_error_text(e));
  }
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

TensorEntry parse_entry(const std::string& name, const json& value, uint64_t data_size,
                        const std::string& label) {
  auto bad = [&](const std::string& what) -> void { fail("{}: tensor '{}': {}", label, name, what); };
  if (!value.is_object()) bad("header entry is not an object");
  for (const auto& [key, _] : value.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets") bad("unknown field '" + key + "'");

  TensorEntry e;
  e.name = name;
  const auto dt = value.find("dtype");
  if (dt == value.end() || !dt->is_string()) bad("missing or non-string 'dtype'");
  const auto parsed = parse_dtype(dt->get_ref<const std::string&>());
  if (!parsed) bad("unknown dtype '" + dt->get<std::string>() + "'");
  e.dtype = *parsed;

  const auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array()) bad("missing or non-array 'shape'");
  if (shape->size() > kMaxRank) bad(fmt::format("rank {} exceeds the limit of {}", shape->size(), kMaxRank));
  uint64_t numel = 1;
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned()) bad("shape holds a value that is not a non-negative integer: " + d.dump());
    const uint64_t dim = d.get<uint64_t>();
    if (dim > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, dim, &numel))
      bad("shape " + shape->dump() + " overflows 64 bits");
    e.shape.push_back(int64_t(dim));
  }

  const auto offs = value.find("data_offsets");
  if (offs == value.end() || !offs->is_array() || offs->size() != 2 || !(*offs)[0].is_number_unsigned() ||
      !(*offs)[1].is_number_unsigned())
    bad("'data_offsets' must be an array of two non-negative integers");
  e.data_begin = (*offs)[0].get<uint64_t>();
  e.data_end = (*offs)[1].get<uint64_t>();
  if (e.data_begin > e.data_end)
    bad(fmt::format("data_offsets [{}, {}] end before they begin", e.data_begin, e.data_end));
  if (e.data_end > data_size)
    bad(fmt::format("data_offsets [{}, {}] reach past the data section of {} bytes (file truncated?)",
                    e.data_begin, e.data_end, data_size));
  uint64_t expected = 0;
  if (__builtin_mul_overflow(numel, uint64_t(dtype_size(e.dtype)), &expected))
    bad("byte size overflows 64 bits");
  if (expected != e.nbytes())
    bad(fmt::format("shape {} of {} needs {} bytes but data_offsets [{}, {}] span {}", shape->dump(),
                    dtype_name(e.dtype), expected, e.data_begin, e.data_end, e.nbytes()));
  return e;
}

}  // namespace

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& label) {
  if (size < 8) fail("{}: file of {} bytes is too short for a safetensors header", label, size);
  SafetensorsHeader h;
  h.header_bytes = read_u64_le(data);
  if (h.header_bytes > kMaxSafetensorsHeaderBytes)
    fail("{}: header length {} exceeds the limit of {} bytes", label, h.header_bytes, kMaxSafetensorsHeaderBytes);
  if (h.header_bytes > size - 8)
    fail("{}: header length {} exceeds the {} bytes that follow it (file truncated?)", label, h.header_bytes,
         size - 8);
  const uint64_t data_size = size - 8 - h.header_bytes;
  const json root = parse_header_json(reinterpret_cast<const char*>(data + 8), size_t(h.header_bytes), label);
  if (!root.is_object()) fail("{}: safetensors header is not a JSON object", label);

  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail("{}: '__metadata__' is not an object", label);
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) fail("{}: '__metadata__' field '{}' is not a string", label, k);
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    h.tensors.push_back(parse_entry(name, value, data_size, label));
  }

  // The data section must be exactly tiled by the tensors: no overlap, no hole.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
  });
  uint64_t cursor = 0;
  const TensorEntry* prev = nullptr;
  for (const auto& t : h.tensors) {
    if (t.data_begin < cursor)
      fail("{}: tensor '{}' [{}, {}) overlaps tensor '{}' [{}, {})", label, t.name, t.data_begin, t.data_end,
           prev->name, prev->data_begin, prev->data_end);
    if (t.data_begin > cursor)
      fail("{}: {} unused bytes in the data section before tensor '{}' (offset {})", label,
           t.data_begin - cursor, t.name, cursor);
    cursor = t.data_end;
    prev = &t;
  }
  if (cursor != data_size)
    fail("{}: data section has {} bytes but its tensors cover only {}", label, data_size, cursor);
  return h;
}

SafetensorsFile SafetensorsFile::open(const std::string& path, Residency residency) {
  SafetensorsFile f;
  f.file_ = MappedFile::open(path, residency);
  f.header_ = parse_safetensors_header(f.file_.data(), f.file_.size(), path);
  f.data_section_ = f.file_.data() + 8 + f.header_.header_bytes;
  for (size_t i = 0; i < f.header_.tensors.size(); ++i) f.index_.emplace(f.header_.tensors[i].name, i);
  return f;
}

TensorView SafetensorsFile::tensor(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) fail("{}: no tensor named '{}'", path(), name);
  const TensorEntry& e = header_.tensors[it->second];
  return TensorView{&e, data_section_ + e.data_begin};
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string r = "[";
  for (size_t i = 0; i < shape.size(); ++i) r += (i ? ", " : "") + std::to_string(shape[i]);
  return r + "]";
}

}  // namespace mlxcpp
