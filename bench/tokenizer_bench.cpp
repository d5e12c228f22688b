// Encodes a text file with a tokenizer and prints throughput as JSON; the peer script
// (tokenizer_bench_hf.js) does the same with Hugging Face tokenizers on the same file.
// Usage: tokenizer_bench TOKENIZER_DIR TEXT_FILE [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "tokenizer/tokenizer.h"
#include "util/files.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR TEXT_FILE [REPEATS]\n", argv[0]);
    return 2;
  }
  const auto tok = mlxcpp::Tokenizer::load(argv[1]);
  const std::string text = mlxcpp::read_text_file(argv[2]);
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  double best = 1e30;
  size_t n_ids = 0;
  for (int r = 0; r < repeats; ++r) {
    // A fresh tokenizer state each round would be unfair to neither side: both keep a word cache.
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, true);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    n_ids = ids.size();
  }
  std::printf("{\"impl\": \"mlxcpp\", \"bytes\": %zu, \"tokens\": %zu, \"best_seconds\": %.6f, \"mb_per_s\": %.3f}\n",
              text.size(), n_ids, best, double(text.size()) / best / 1e6);
  return 0;
}
