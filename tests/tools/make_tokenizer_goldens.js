// Generates tests/data/tokenizer/goldens/<name>.json with Hugging Face tokenizers (the
// Rust library, through the @anush008/tokenizers native bindings) for every tokenizer
// in data/tokenizers plus the bundled model's: for each corpus string, the ids with and
// without special tokens, and the decode of the ids (skip_special_tokens = false).
// Usage: (cd tests/tools && npm install) && node tests/tools/make_tokenizer_goldens.js
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const os = require('os');
const { Tokenizer } = require('@anush008/tokenizers');

const root = path.resolve(__dirname, '..', '..');
const corpus = JSON.parse(fs.readFileSync(path.join(root, 'tests/data/tokenizer/corpus.json'), 'utf8'));
const outDir = path.join(root, 'tests/data/tokenizer/goldens');
fs.mkdirSync(outDir, { recursive: true });

function tokenizerFile(dir) {
  const plain = path.join(dir, 'tokenizer.json');
  if (fs.existsSync(plain)) return plain;
  const tmp = path.join(os.tmpdir(), `tok-${path.basename(dir)}.json`);
  fs.writeFileSync(tmp, zlib.gunzipSync(fs.readFileSync(plain + '.gz')));
  return tmp;
}

(async () => {
  const dirs = fs.readdirSync(path.join(root, 'data/tokenizers'))
    .filter((d) => fs.statSync(path.join(root, 'data/tokenizers', d)).isDirectory())
    .map((d) => [d, path.join(root, 'data/tokenizers', d)]);
  dirs.push(['fortune-tiny', path.join(root, 'models/fortune-tiny-mlx-4bit-g64')]);
  for (const [name, dir] of dirs) {
    const tok = Tokenizer.fromFile(tokenizerFile(dir));
    const cases = [];
    for (const text of corpus) {
      const withSpecial = await tok.encode(text, null, { addSpecialTokens: true });
      const without = await tok.encode(text, null, { addSpecialTokens: false });
      const ids = withSpecial.getIds();
      cases.push({
        text,
        ids: Array.from(ids),
        ids_no_special: Array.from(without.getIds()),
        decoded: await tok.decode(Array.from(ids), false),
      });
    }
    const out = { generator: 'tests/tools/make_tokenizer_goldens.js (HF tokenizers via @anush008/tokenizers 0.6.0)',
                  tokenizer: path.relative(root, dir), cases };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(out) + '\n');
    console.log(`${name}: ${cases.length} cases`);
  }
})();
