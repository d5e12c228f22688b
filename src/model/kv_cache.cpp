#include "model/kv_cache.h"

namespace mlxcpp {

KVCache::KVCache(int64_t layers_, int64_t kv_heads_, int64_t head_dim_, int64_t capacity_)
    : layers(layers_), kv_heads(kv_heads_), head_dim(head_dim_), capacity(capacity_) {
  k.assign(std::size_t(layers), std::vector<float>(size_t(kv_heads * capacity * head_dim)));
  v.assign(std::size_t(layers), std::vector<float>(size_t(kv_heads * capacity * head_dim)));
}

}  // namespace mlxcpp
