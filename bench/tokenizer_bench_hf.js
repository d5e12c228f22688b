// The peer: Hugging Face tokenizers (Rust, via @anush008/tokenizers) encoding the same file.
// Usage: node bench/tokenizer_bench_hf.js TOKENIZER_JSON TEXT_FILE [REPEATS]
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '..', 'tests', 'tools', 'node_modules', '@anush008', 'tokenizers'));
(async () => {
  const [tokPath, textPath, reps] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tokPath);
  const text = fs.readFileSync(textPath, 'utf8');
  const repeats = Number(reps || 5);
  let best = Infinity, n = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    const enc = await tok.encode(text, null, { addSpecialTokens: true });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.min(best, s);
    n = enc.getIds().length;
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  console.log(JSON.stringify({ impl: 'hf-tokenizers', bytes, tokens: n, best_seconds: best, mb_per_s: bytes / best / 1e6 }));
})();
