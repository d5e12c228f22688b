#!/usr/bin/env python3
"""Writes tests/data/tokenizer/corpus.json: >= 200 strings that stress tokenizers.

Deterministic (fixed seed); committed together with its output."""
import json, random, pathlib

random.seed(20261125)
out = []
add = out.append

# Plain English, contractions, casing.
for s in ["", " ", "  ", "Hello world", "Hello, world!", "The best way to", "A day for firm decisions",
          "I'm sure you'll see it's what we'd've done", "DON'T SHOUT", "don't", "She's", "they've", "It'S",
          "hello   world", " leading space", "trailing space ", "UPPER lower MiXeD", "e.g. i.e. etc.",
          "Mr. O'Neil's cat", "rock 'n' roll", "\"quoted\" and 'single'", "(parens) [brackets] {braces}",
          "semi;colon:colon", "a-b_c.d/e\\f", "100% sure", "$5.00 or €4,50 or £3", "#hashtag @mention",
          "email@example.com", "https://example.com/path?q=1&r=2#frag", "C++ and C#", "x == y != z <= w >= v"]:
    add(s)
# Whitespace runs, tabs, CR/LF.
for s in ["a\tb", "\t\tindented", "line1\nline2", "line1\r\nline2", "\r\r\n\n", "a \n b", "  \n  ",
          "trailing newline\n", "\n\nleading newlines", "mixed \t \n \r spaces", "a" + " " * 17 + "b",
          "\u00a0non-breaking\u00a0space", "ideographic\u3000space", "zero\u200bwidth", "em\u2003space",
          "\x0bvertical\x0ctab", "\u2028line\u2029para"]:
    add(s)
# Digits.
for s in ["0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "0x1F", "2026-11-25",
          "12:30:45", "9" * 40, "v1.2.3", "٣٤٥ arabic digits", "１２３ fullwidth", "1e-10", "-273.15"]:
    add(s)
# Scripts.
for s in ["Grüße aus München", "naïve café résumé", "Ελληνικά γράμματα", "Русский текст", "עברית",
          "العربية", "हिन्दी", "বাংলা", "தமிழ்", "ภาษาไทย", "中文字符测试", "日本語のテキスト", "한국어 텍스트",
          "Tiếng Việt", "ქართული", "Հայերեն", "ᚠᚢᚦᚨᚱᚲ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Ω≈ç√∫˜µ≤≥÷", "Ｆｕｌｌｗｉｄｔｈ"]:
    add(s)
# Emoji, ZWJ sequences, flags, skin tones, combining marks.
for s in ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇩🇪🇯🇵", "🧑🏿‍💻", "❤️", "☕ coffee", "e\u0301", "n\u0303o",
          "a\u0308\u0304", "Z\u0351\u0352\u0353algo", "\u1100\u1161\u11a8", "\ufeffBOM", "ﬁ ligature", "Å vs Å"]:
    add(s)
# Code.
for s in ["def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
          "#include <stdio.h>\nint main() { printf(\"hi\\n\"); }", "SELECT * FROM t WHERE a = 'b';",
          "const x = () => { return [1, 2, 3].map(v => v ** 2); };", "<div class=\"x\">&amp;</div>",
          "{\"key\": [1, 2, {\"n\": null}]}", "    indented_code = True", "if x:\n\tpass\nelse:\n\tpass",
          "a=b+c*d/e-f%g", "std::vector<std::string> v;", "fn main() -> Result<(), Box<dyn Error>> {}",
          "$ ls -la | grep foo > out.txt 2>&1", "// comment\n/* block */", "x <<= 2; y >>= 3;",
          "λx. x", "@decorator\ndef g(): ..."]:
    add(s)
# Literal special-token text (recognized as added tokens where the tokenizer has them).
for s in ["<s>", "</s>", "<unk>", "<|begin_of_text|>Hi", "<|end_of_text|>", "<|im_start|>user\nhi<|im_end|>",
          "<|eot_id|>", "<bos><start_of_turn>user", "<end_of_turn>", "[INST] hi [/INST]", "<|user|>\nhi<|end|>",
          "<|endoftext|>", "text<s>inside</s>text", "<0x41>", "<|im_start|>", "<think>reason</think>",
          "<|start_header_id|>assistant<|end_header_id|>\n\n", "<s> spaced </s>", "<<SYS>>\nsys\n<</SYS>>"]:
    add(s)
# Punctuation runs and oddities.
for s in ["!!!", "???", "...", "—–-", "“smart quotes”", "‘single’", "«guillemets»", "¿Qué?", "¡Hola!",
          "a...b", "--flag", "==>", "***bold***", "~~strike~~", "__init__", "\\n literal", "tab\\t literal"]:
    add(s)

# Random mixtures to reach well past 200 strings.
alphabet = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-_()[]{}<>/\\\n\t"
            "éüñçøåßœæ€£¥©®™°±×÷αβγδλπΩжщюя中文日本한글🙂🚀🎉👍🏽\u0301")
while len(out) < 260:
    n = random.randint(1, 60)
    add("".join(random.choice(alphabet) for _ in range(n)))

path = pathlib.Path(__file__).resolve().parents[1] / "data" / "tokenizer" / "corpus.json"
path.write_text(json.dumps(out, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
print(f"wrote {len(out)} strings to {path}")
