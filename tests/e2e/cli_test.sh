#!/usr/bin/env bash
# End-to-end checks of the mlxcpp binary: what a user sees, including exit statuses.
set -uo pipefail
bin="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/check.sh"
check inspect-default 0 "parameters +1049728" -- "$bin" inspect
check inspect-json 0 '"bits_per_weight"' -- "$bin" inspect "$root/models/fortune-tiny-mlx-4bit-g64" --json
check inspect-missing 1 "not in the Hugging Face cache" -- env HF_HUB_CACHE="$tmp/cache" "$bin" inspect mlx-community/Nope-4bit
check inspect-bad-id 1 "no such model directory" -- "$bin" inspect ../../no-such-dir
check usage-error 2 "required" -- "$bin" convert
check convert-q 0 "29 quantized" -- "$bin" convert "$root/tests/data/models/fortune-tiny" -o "$tmp/c4" --dtype bf16 -q
check convert-exists 1 "already exists" -- "$bin" convert "$root/tests/data/models/fortune-tiny" -o "$tmp/c4"
check convert-bad-bits 1 "got 7" -- "$bin" convert "$root/tests/data/models/fortune-tiny" -o "$tmp/c7" -q --q-bits 7
check inspect-converted 0 "affine 4-bit g64" -- "$bin" inspect "$tmp/c4"
check synth 0 "tokenizer from" -- "$bin" synth --like llama-3.2-1b --layers 1 -q -o "$tmp/s1"
check synth-inspect 0 "llama \(1 layers, hidden 2048" -- "$bin" inspect "$tmp/s1"
check synth-bad-preset 1 "neither a preset" -- "$bin" synth --like gpt-9 -o "$tmp/s2"
check tokenize 0 "^0 317 978 722 286$" -- "$bin" tokenize "The best way to"
check tokenize-json 0 '"tokens":\["<\|begin_of_text\|>","The"' -- "$bin" tokenize --json "The"
check tokenize-stdin 0 "^317 978$" -- bash -c "printf 'The best' | '$bin' tokenize --no-special -"
check detokenize 0 "^The best way to$" -- "$bin" detokenize 317 978 722 286
check detokenize-range 1 "outside the vocabulary" -- "$bin" detokenize 99999
check list-fits 0 "Qwen2.5-Coder-7B-Instruct-4bit" -- "$bin" list --fits --ram-gb 8 --category code
# --vram-gb 0: the same answer on a machine with a GPU (whose VRAM would otherwise count).
check list-fits-excludes 1 "^$" -- bash -c "'$bin' list --fits --ram-gb 8 --vram-gb 0 --category code | grep CodeLlama"
check recommend 0 "Meta-Llama-3.1-8B-Instruct-4bit.*weights 4.50 GB \\+ KV cache 1.07 GB.*about 10 tokens/s" -- "$bin" recommend --ram-gb 8 --vram-gb 0 --bandwidth-gbs 50
check recommend-other-category 0 "Nothing in category 'code' fits.*from another category is mlx-community/Llama-3.2-1B" -- "$bin" recommend --task code --ram-gb 2 --vram-gb 0 --bandwidth-gbs 50
check recommend-nothing 4 "nor does any other catalogue model" -- "$bin" recommend --task code --ram-gb 0.5 --vram-gb 0 --bandwidth-gbs 50
check chat-reuses-cache 0 "prompt [0-9]+ tokens \([1-9][0-9]* reused from the cache\)" -- bash -c "printf 'Hello\nTell me more\n' | '$bin' chat --max-tokens 8 --temp 0"
check chat-reset 0 "^same answer after /reset$" -- bash -c "out=\$(printf 'Hello\\n/reset\\nHello\\n' | '$bin' chat --max-tokens 8 --temp 0 2>/dev/null); [ \"\$(grep -c . <<<\"\$out\")\" -eq 2 ] && [ \"\$(head -1 <<<\"\$out\")\" = \"\$(tail -1 <<<\"\$out\")\" ] && echo 'same answer after /reset'"
check generate 0 "^ say that the man who, who knows it" -- "$bin" generate -p "The best way to" --raw --max-tokens 12
check generate-json 0 '"finish_reason":"length".*"generation_tokens":5' -- "$bin" generate -p "The best way to" --raw --max-tokens 5 --json
check generate-stop 0 '"finish_reason":"stop".*"text":" say that the man"' -- "$bin" generate -p "The best way to" --raw --stop " who" --json
check generate-seed 0 '"ids"' -- "$bin" generate -p "You will" --raw --temp 0.8 --top-p 0.9 --seed 7 --json
check generate-cpu 0 "^ say that the man who, who knows it" -- "$bin" generate -p "The best way to" --raw --max-tokens 12 --device cpu
check generate-bad-device 2 "device" -- "$bin" generate -p "x" --device tpu
# mlx-lm's kv_bits: at 8 bits the f32 path keeps the reference text (the cache is converted
# after the prompt, start 0); the bundled model's heads of 32 need --kv-group-size 32.
check generate-kv8-f32 0 "^ say that the man who, who knows it; that is" -- "$bin" generate -p "The best way to" --raw --max-tokens 12 --precision f32 --kv-bits 8 --kv-group-size 32 --quantized-kv-start 0
check generate-kv4 0 '"finish_reason":"length".*"generation_tokens":12' -- "$bin" generate -p "The best way to" --raw --max-tokens 12 --kv-bits 4 --kv-group-size 32 --quantized-kv-start 0 --json
check generate-kv-bad-bits 2 "kv-bits" -- "$bin" generate -p "x" --kv-bits 7
# Usage errors name the flag and exit 2; the peers' flag names work.
check generate-bad-temp 2 "^--temp: must be >= 0, got -1$" -- "$bin" generate -p "x" --temp -1
check generate-bad-threads 2 "^--threads: must be >= 0, got -2$" -- "$bin" generate -p "x" --threads -2
check generate-bad-top-p 2 "^--top-p: must be between 0 and 1, got 2$" -- "$bin" generate -p "x" --top-p 2
check generate-dash-n 0 '"generation_tokens":3' -- "$bin" generate -p "The best way to" --ignore-chat-template -n 3 --json
check generate-system-prompt 0 '"generation_tokens":2' -- "$bin" generate -p "Hi" --system-prompt "Be brief" -n 2 --json
check generate-max-kv-size 0 '"finish_reason":"length".*"generation_tokens":4' -- "$bin" generate -p "The best way to" --raw --max-kv-size 9 --json
check generate-max-kv-size-short 1 "max-kv-size 4: the prompt alone has 5 tokens" -- "$bin" generate -p "The best way to" --raw --max-kv-size 4
printf '[{"role":' > "$tmp/bad.json"
# Progress on a terminal (script gives the command one), none in a pipe.
check convert-progress-tty 0 "convert: tensors written: 38/38" -- script -qc "'$bin' convert '$root/tests/data/models/fortune-tiny' -o '$tmp/cprog' -q" /dev/null
printf 'luck fortune travel river mountain friend letter morning garden window silver quiet harbour lantern %.0s' 1 2 3 > "$tmp/ppl.txt"
check perplexity-progress-tty 0 "perplexity: windows: 1/" -- script -qc "'$bin' perplexity -f '$tmp/ppl.txt' --ctx 8" /dev/null
check perplexity-no-progress-piped 0 "^no progress$" -- bash -c "'$bin' perplexity -f '$tmp/ppl.txt' --ctx 8 2>&1 | grep -q windows || echo 'no progress'"
touch "$tmp/model.gguf"
check generate-gguf 1 "GGUF is llama.cpp's format; mlxcpp runs MLX-format models" -- "$bin" generate -m "$tmp/model.gguf" -p hi
check resolve-ollama 0 "^llama3.2:1b is mlx-community/Llama-3.2-1B-Instruct-4bit" -- "$bin" resolve llama3.2:1b
check resolve-ollama-default 0 "^qwen2.5-coder is mlx-community/Qwen2.5-Coder-7B-Instruct-4bit" -- "$bin" resolve qwen2.5-coder
check template-bad-json 1 "bad.json: invalid JSON: parse error at line 1" -- "$bin" template --messages "$tmp/bad.json"
check template-bad-json-no-tag 0 "^no library tag$" -- bash -c "'$bin' template --messages '$tmp/bad.json' 2>&1 | grep -q 'json.exception' || echo 'no library tag'"
check convert-q-mode-implies-q 0 "quantized" -- "$bin" convert "$root/tests/data/models/fortune-tiny" -o "$tmp/cmx" --q-mode mxfp4
check list-fast-alias 0 "small-fast" -- "$bin" list --category fast
check recommend-small-fast 0 "mlx-community/" -- "$bin" recommend --task small-fast --ram-gb 16 --vram-gb 0
if ! { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then
  # No GPU here: asking for one is an error that says why (the default, auto, runs on the CPU).
  check generate-no-gpu 1 "device cuda: " -- "$bin" generate -p "x" --raw --max-tokens 1 --device cuda
fi
check generate-chat 0 '"prompt_tokens":1[0-9]' -- "$bin" generate -p "Hello" --chat --max-tokens 3 --json
printf '[{"role":"user","content":"Hi"}]' > "$tmp/msgs.json"
check template 0 "^<\|im_start\|>user$" -- "$bin" template --messages "$tmp/msgs.json" --add-generation-prompt
out="$("$bin" template --messages "$tmp/msgs.json" --add-generation-prompt | od -c | tail -2 | head -1)"
case "$out" in *'t  \n'*) echo "ok   template-exact-bytes";; *) echo "FAIL template-exact-bytes: $out"; fails=$((fails + 1));; esac
printf '[{"role":"user"' > "$tmp/bad.json"
check template-bad-json 1 "invalid JSON" -- "$bin" template --messages "$tmp/bad.json"
check perplexity-f32 0 '"perplexity":937\.87' -- "$bin" perplexity -f "$root/tests/data/models/eval/debian-fortunes.txt" --ctx 128 --json --precision f32
# The default fast path (int8 activations: one pass for prompts, two for decode) stays within 1 % of 937.88.
check perplexity-fast 0 '"perplexity":(93[3-9]|94[0-7])\.' -- "$bin" perplexity -f "$root/tests/data/models/eval/debian-fortunes.txt" --ctx 128 --json
# A bf16 model (fortune-tiny converted without quantization): 782.58 on the f32 path; the fast
# path (bf16 activations through vdpbf16ps on CPUs with AVX512_BF16, f32 ones elsewhere) within 1 %.
check convert-bf16 0 "\(0 quantized\)" -- "$bin" convert "$root/tests/data/models/fortune-tiny" -o "$tmp/b16" --dtype bf16
check perplexity-bf16-f32 0 '"perplexity":782\.5' -- "$bin" perplexity -m "$tmp/b16" -f "$root/tests/data/models/eval/debian-fortunes.txt" --ctx 128 --json --precision f32
check perplexity-bf16-fast 0 '"perplexity":(77[5-9]|78[0-9]|790)\.' -- "$bin" perplexity -m "$tmp/b16" -f "$root/tests/data/models/eval/debian-fortunes.txt" --ctx 128 --json
# stdout and stderr into one pipe: the statistics start their own line after the text.
check generate-stats-own-line 0 '^prompt: [0-9]+ tokens' -- bash -c "\"\$0\" generate -p 'The best way to' --raw --max-tokens 8 2>&1 | tail -1" "$bin"
# --kv-bits on the bundled model (head dimension 32): groups of 32, said; a group given that
# does not divide it is still an error naming it.
check kv-bits-default-group 0 'groups of 32 values' -- "$bin" generate -p "The best way to" --raw --max-tokens 8 --kv-bits 4 --quantized-kv-start 2
check kv-bits-given-group 1 'kv_group_size 64 does not divide the head dimension 32' -- "$bin" generate -p "x" --raw --max-tokens 2 --kv-bits 4 --kv-group-size 64
# A mistyped command is named with the nearest ones (exit 2); `help COMMAND` is its help.
check unknown-command 2 "'generat' is not a command; did you mean: generate" -- "$bin" generat
check help-command 0 'Usage: generate' -- "$bin" help generate
check bench 0 'tg8 ' -- "$bin" bench -p 8 -n 8 -r 2
# The defaults (-p 512 -n 128, --ctx 512) shrink to the bundled model's context of 256, saying so;
# sizes given explicitly that do not fit are still an error.
check bench-defaults-fit-the-model 0 'context is 256 tokens: -p 205 -n 51' -- "$bin" bench -r 1
check bench-given-sizes-too-long 1 'exceeds the model.s context of 256' -- "$bin" bench -p 300 -n 8 -r 1
check perplexity-default-window 0 'windows of 256' -- "$bin" perplexity -f "$root/tests/data/models/eval/debian-fortunes.txt" --json
a="$("$bin" generate -p "You will" --raw --temp 0.9 --seed 42 --max-tokens 20 --json 2>/dev/null | grep -o '"ids":\[[0-9,]*\]')"
b="$("$bin" generate -p "You will" --raw --temp 0.9 --seed 42 --max-tokens 20 --json 2>/dev/null | grep -o '"ids":\[[0-9,]*\]')"
c="$("$bin" generate -p "You will" --raw --temp 0.9 --seed 43 --max-tokens 20 --json 2>/dev/null | grep -o '"ids":\[[0-9,]*\]')"
if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ]; then echo "ok   seed-reproducible"; else echo "FAIL seed-reproducible: $a / $b / $c"; fails=$((fails + 1)); fi
check resolve-exact 0 "is in the catalogue" -- "$bin" resolve mlx-community/Phi-3.5-mini-instruct-4bit
check resolve-suggest 3 "did you mean: mlx-community/Meta-Llama-3.1-8B-Instruct-4bit" -- "$bin" resolve mlx-community/Llama-3.1-8B-Instruct-mlx
check resolve-nothing 4 "nothing resembles" -- "$bin" resolve "zzzz qqqq"
check list-json 0 '"small-fast"' -- "$bin" list --json
check list-category 0 "CodeLlama-7b-Python-mlx" -- "$bin" list --category code
check hw 0 "logical cores" -- "$bin" hw
check hw-json 0 '"usable_ram_bytes"' -- "$bin" hw --json
exit $((fails > 0))
