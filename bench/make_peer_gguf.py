#!/usr/bin/env python3
"""Writes a GGUF (llama architecture, F16, random weights) with the shapes and tokenizer of an
MLX model directory made by `mlxcpp synth`, so that llama.cpp can be benchmarked on the same
work: quantize it with `llama-quantize --pure IN OUT Q4_0` and run llama-bench on it.

  PYTHONPATH=<llama.cpp>/gguf-py python3 bench/make_peer_gguf.py MODEL_DIR OUT.gguf [--q4_0]

--q4_0 writes every matrix directly as Q4_0 blocks of random bytes (scale 0.01), which is what
`llama-quantize --pure` would give in type and size, without the F16 intermediate (an 8B model
is written in about a minute instead of several).

Needs numpy and sentencepiece (Debian: python3-numpy, python3-sentencepiece) and gguf-py from
a llama.cpp checkout (not part of this repository); bench/peer_compare.sh and
bench/serve_compare.sh use its output. Speed does not depend on the weight values, so they
are random; norms are 1.
"""
import json
import sys
from pathlib import Path

import numpy as np
import gguf

src, out = Path(sys.argv[1]), sys.argv[2]
q4_0 = "--q4_0" in sys.argv[3:]
cfg = json.loads((src / "config.json").read_text())
if cfg.get("model_type") not in ("llama", "mistral"):
    sys.exit(f"{src}: only llama-like models are supported (model_type {cfg.get('model_type')})")
tok = json.loads((src / "tokenizer.json").read_text())

h, ff, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
heads, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
hd = cfg.get("head_dim", h // heads)
vocab = cfg["vocab_size"]
tied = cfg.get("tie_word_embeddings", False)

w = gguf.GGUFWriter(out, "llama")
w.add_name(src.name)
w.add_context_length(cfg.get("max_position_embeddings", 8192))
w.add_embedding_length(h)
w.add_block_count(layers)
w.add_feed_forward_length(ff)
w.add_head_count(heads)
w.add_head_count_kv(kv)
w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-5)))
w.add_rope_dimension_count(hd)
w.add_key_length(hd)
w.add_value_length(hd)
w.add_vocab_size(vocab)
w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0 if q4_0 else gguf.LlamaFileType.MOSTLY_F16)

# The tokenizer: byte-level BPE, ids in order, added tokens marked as control tokens.
tokens = [""] * vocab
types = [gguf.TokenType.UNUSED] * vocab
for t, i in tok["model"]["vocab"].items():
    if i < vocab:
        tokens[i], types[i] = t, gguf.TokenType.NORMAL
for a in tok.get("added_tokens", []):
    if a["id"] < vocab:
        tokens[a["id"]], types[a["id"]] = a["content"], gguf.TokenType.CONTROL if a.get("special") else gguf.TokenType.USER_DEFINED
for i in range(vocab):
    if not tokens[i]:
        tokens[i] = f"[PAD{i}]"
merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("llama-bpe")
w.add_token_list(tokens)
w.add_token_types(types)
w.add_token_merges(merges)
bos = cfg.get("bos_token_id", 1)
eos = cfg.get("eos_token_id", 2)
w.add_bos_token_id(bos)
w.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)

shapes = [("token_embd.weight", (vocab, h), np.float16)]
for i in range(layers):
    p = f"blk.{i}."
    shapes += [(p + "attn_norm.weight", (h,), np.float32), (p + "attn_q.weight", (heads * hd, h), np.float16),
               (p + "attn_k.weight", (kv * hd, h), np.float16), (p + "attn_v.weight", (kv * hd, h), np.float16),
               (p + "attn_output.weight", (h, heads * hd), np.float16), (p + "ffn_norm.weight", (h,), np.float32),
               (p + "ffn_gate.weight", (ff, h), np.float16), (p + "ffn_up.weight", (ff, h), np.float16),
               (p + "ffn_down.weight", (h, ff), np.float16)]
shapes.append(("output_norm.weight", (h,), np.float32))
if not tied:
    shapes.append(("output.weight", (vocab, h), np.float16))
Q4_0 = gguf.GGMLQuantizationType.Q4_0


def q4_0_byte_shape(shape):  # blocks of 32 weights: an f16 scale and 16 bytes of nibbles
    return (shape[0], shape[1] // 32 * 18)


for name, shape, dtype in shapes:
    if q4_0 and dtype == np.float16:
        bs = q4_0_byte_shape(shape)
        w.add_tensor_info(name, bs, np.dtype(np.uint8), bs[0] * bs[1], raw_dtype=Q4_0)
    else:
        w.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_ti_data_to_file()
rng = np.random.default_rng(0)
for name, shape, dtype in shapes:
    if dtype == np.float32:
        w.write_tensor_data(np.ones(shape, dtype=np.float32))
    elif q4_0:
        blocks = rng.integers(0, 256, size=(shape[0], shape[1] // 32, 18), dtype=np.uint8)
        blocks[:, :, 0:2] = np.frombuffer(np.float16(0.01).tobytes(), dtype=np.uint8)
        w.write_tensor_data(blocks.reshape(q4_0_byte_shape(shape)))
    else:
        w.write_tensor_data((rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16))
w.close()
print(f"wrote {out} ({'Q4_0' if q4_0 else 'F16'}): {layers} layers, hidden {h}, vocab {vocab}, {'tied' if tied else 'untied'} embeddings")
