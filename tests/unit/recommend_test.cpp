// recommend on the committed budget table (tests/data/recommend/cases.json): the choice
// never exceeds the budget (recomputed here from the catalogue file, independently of the
// library's arithmetic), nothing that scores higher also fits, "nothing fits" is only said
// when it is true, and the hand-worked expectations hold.
#include <gtest/gtest.h>

#include <cmath>

#include "catalogue/recommend.h"
#include "test_support.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

struct Budget {
  double ram_gb, vram_gb;
};

// The need of a catalogue entry as docs/design.md states it, from the raw JSON.
double need_gb(const nlohmann::json& m, int64_t ctx) {
  const auto& s = m["shape"];
  const double kv = 2.0 * s["layers"].get<double>() * s["kv_heads"].get<double>() * s["head_dim"].get<double>() * double(ctx) * 4;
  const double hidden = std::max(4096.0, s["hidden"].get<double>()), vocab = std::max(32000.0, s["vocab"].get<double>());
  const double runtime = 256.0 * 1024 * 1024 + 512 * hidden * 24 * 4 + 2 * vocab * 4;
  return m["size_gb"].get<double>() + (kv + runtime) / 1e9;
}

bool fits(double need, const Budget& b) { return need <= 0.92 * b.vram_gb + 1e-9 || need <= 0.85 * b.ram_gb + 1e-9; }

TEST(Recommend, CommittedTableOfBudgets) {
  const auto table = read_json_file(test::data_dir() / "recommend" / "cases.json");
  const auto raw = read_json_file(std::filesystem::path(MLXCPP_SOURCE_DIR) / "data" / "catalogue.json");
  const Catalogue catalogue = Catalogue::builtin();
  ASSERT_GE(table["cases"].size(), 30u);
  int with_choice = 0, expected = 0;
  for (const auto& c : table["cases"]) {
    const std::string task = c["task"];
    const int64_t ctx = c["context"];
    const Budget b{c["ram_gb"], c["vram_gb"]};
    const std::string label = c.dump();
    HardwareInfo no_gpu;  // budgets come from the table, never from this machine
    const MemoryBudget budget = MemoryBudget::from(no_gpu, b.ram_gb, b.vram_gb > 0 ? std::optional<double>(b.vram_gb) : std::nullopt);
    const Recommendation rec = recommend(catalogue, {task, ctx}, budget);
    EXPECT_FALSE(rec.explanation.empty()) << label;
    // The best model that truly fits, by the independent arithmetic.
    const std::string category = category_for_task(task);
    double best_score = -1;
    for (const auto& m : raw["models"]) {
      const auto cats = m["categories"].get<std::vector<std::string>>();
      if (std::find(cats.begin(), cats.end(), category) == cats.end()) continue;
      if (m["context_length"].get<int64_t>() < ctx || !fits(need_gb(m, ctx), b)) continue;
      // A mixture of experts scores as the geometric mean of its total and active parameters.
      const double total = m["parameters_b"].get<double>(), active = m.value("active_parameters_b", 0.0);
      const double effective = active > 0 && active < total ? std::sqrt(total * active) : total;
      best_score = std::max(best_score, effective * quantization_quality(m["quantization"]));
    }
    if (!rec.choice || !rec.other_category.empty()) {
      EXPECT_LT(best_score, 0) << label << ": said nothing in the category fits, but something does";
      if (rec.choice) {  // the best from another category, marked as such
        EXPECT_TRUE(rec.choice->fit.fits) << label;
        EXPECT_NE(rec.explanation.find("from another category"), std::string::npos) << label;
      }
    } else {
      ++with_choice;
      const std::string id = rec.choice->entry->id;
      const auto m = *std::find_if(raw["models"].begin(), raw["models"].end(), [&](const auto& x) { return x["id"] == id; });
      const double need = need_gb(m, ctx);
      EXPECT_NEAR(double(rec.choice->need.total()) / 1e9, need, 1e-6) << label;
      EXPECT_TRUE(fits(need, b)) << label << ": " << id << " needs " << need << " GB";
      EXPECT_LE(ctx, m["context_length"].get<int64_t>()) << label;
      EXPECT_NEAR(rec.choice->score, best_score, 1e-9) << label << ": a better model fits";
      EXPECT_NE(rec.explanation.find("GB"), std::string::npos) << "the arithmetic is shown";
      if (rec.choice->fit.device == "cpu") EXPECT_LE(need, 0.85 * b.ram_gb + 1e-9) << label;
      if (rec.choice->fit.device == "cuda") EXPECT_LE(need, 0.92 * b.vram_gb + 1e-9) << label;
    }
    if (c.contains("expect")) {
      ++expected;
      if (c["expect"].is_null()) EXPECT_TRUE(!rec.choice || !rec.other_category.empty()) << label;
      else EXPECT_EQ(rec.choice ? rec.choice->entry->id : "(none)", c["expect"].get<std::string>()) << label;
      if (c.contains("device") && rec.choice) EXPECT_EQ(rec.choice->fit.device, c["device"].get<std::string>()) << label;
    }
    for (const auto& a : rec.alternatives) EXPECT_TRUE(a.fit.fits) << label << " " << a.entry->id;
  }
  EXPECT_GE(with_choice, 20);
  EXPECT_GE(expected, 15);
}

TEST(Recommend, UnknownTaskAndBadContextAreErrors) {
  const Catalogue catalogue = Catalogue::builtin();
  MemoryBudget b;
  b.ram_bytes = 16'000'000'000;
  EXPECT_THROW(recommend(catalogue, {"poetry", 4096}, b), Error);
  EXPECT_THROW(recommend(catalogue, {"general", 0}, b), Error);
}

TEST(Recommend, ModelOutsideTheCatalogueCountsWeightsAndRuntime) {
  const MemoryNeed n = estimate_memory(uint64_t(3e9), ModelShape{}, 4096);
  EXPECT_EQ(n.kv_cache, 0u);
  EXPECT_NE(n.arithmetic.find("KV cache unknown"), std::string::npos);
  EXPECT_GT(n.total(), uint64_t(3e9));
}

// Expected speed = bandwidth / bytes read per token; a model under the 5 tokens/s floor is
// chosen only when nothing faster fits, and the explanation says so.
TEST(Recommend, ExpectedSpeedAndTheFloor) {
  const Catalogue catalogue = Catalogue::builtin();
  HardwareInfo no_gpu;
  MemoryBudget b = MemoryBudget::from(no_gpu, 16.0, std::nullopt);
  b.ram_bandwidth = 50e9, b.ram_bandwidth_source = "test";
  const Recommendation fast = recommend(catalogue, {"general", 4096}, b);
  ASSERT_TRUE(fast.choice);
  const Candidate& c = *fast.choice;
  EXPECT_EQ(c.bytes_per_token, c.need.weights + c.need.kv_cache / 2);
  EXPECT_NEAR(c.tokens_per_s, 50e9 / double(c.bytes_per_token), 1e-9);
  EXPECT_NE(fast.explanation.find("tokens/s"), std::string::npos) << fast.explanation;
  // At 30 GB/s the highest-scoring fit (gemma-2-9b, 6.6 GB a token) falls under the floor:
  // a faster model is chosen instead.
  b.ram_bandwidth = 30e9;
  const Recommendation floor = recommend(catalogue, {"general", 4096}, b);
  ASSERT_TRUE(floor.choice);
  EXPECT_NE(floor.choice->entry->id, c.entry->id);
  EXPECT_GE(floor.choice->tokens_per_s, kMinTokensPerSecond);
  // When everything is under it, the best is still offered, with the floor named.
  b.ram_bandwidth = 1e9;
  const Recommendation slow = recommend(catalogue, {"general", 4096}, b);
  ASSERT_TRUE(slow.choice);
  EXPECT_NE(slow.explanation.find("below the 5 tokens/s floor"), std::string::npos) << slow.explanation;
}

// Nothing of the category fits: the best fit of any category is offered, marked as such.
TEST(Recommend, NothingInTheCategoryFitsOffersAnotherMarked) {
  HardwareInfo no_gpu;
  const Catalogue catalogue = Catalogue::builtin();  // outlives r, which points into it
  const Recommendation r = recommend(catalogue, {"code", 4096}, MemoryBudget::from(no_gpu, 2.0, 0.0));
  ASSERT_TRUE(r.choice);
  EXPECT_FALSE(r.other_category.empty());
  EXPECT_NE(r.explanation.find("Nothing in category 'code' fits"), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("from another category"), std::string::npos) << r.explanation;
  EXPECT_EQ(r.to_json()["other_category"], r.other_category);
}

// Sizes read in the unit that suits them: no "0.00 GB" for a small download.
TEST(Recommend, SizesAreShownInAUnitThatSuitsThem) {
  EXPECT_EQ(format_size(4'500'000'000), "4.50 GB");
  EXPECT_EQ(format_size(12'345'678), "12.3 MB");
  EXPECT_EQ(format_size(4'100), "4.1 KB");
  EXPECT_EQ(format_size(512), "512 bytes");
}

}  // namespace
}  // namespace mlxcpp

namespace mlxcpp {
namespace {

// A mixture of experts (active_parameters_b in a user's catalogue entry): all of its weights
// must fit, but a token reads only its share, and its quality counts as √(total × active).
TEST(Recommend, MixturesOfExpertsFitByTotalAndRunByActive) {
  test::TempDir dir;
  const nlohmann::json user = {
      {"models",
       {{{"id", "example/moe-30b-a3b-4bit"}, {"architecture", "qwen3_moe"}, {"categories", {"quality"}},
         {"parameters_b", 30.5}, {"active_parameters_b", 3.3}, {"quantization", "4bit"}, {"size_gb", 17.2},
         {"context_length", 40960}, {"evidence", "test entry"},
         {"shape", {{"layers", 48}, {"kv_heads", 4}, {"head_dim", 128}, {"hidden", 2048}, {"vocab", 151936}}}}}}};
  write_file_atomic(dir / "user.json", user.dump());
  Catalogue catalogue = Catalogue::builtin();
  catalogue.merge_file(dir / "user.json");
  MemoryBudget budget;
  budget.ram_bytes = uint64_t(64) << 30;
  budget.ram_bandwidth = 100e9;
  const Recommendation rec = recommend(catalogue, {.task = "quality", .context = 4096}, budget);
  std::vector<Candidate> all = rec.alternatives;
  if (rec.choice) all.push_back(*rec.choice);
  const Candidate* moe = nullptr;
  for (const Candidate& c : all)
    if (c.entry->id == "example/moe-30b-a3b-4bit") moe = &c;
  ASSERT_NE(moe, nullptr) << rec.explanation;
  EXPECT_NEAR(moe->score, std::sqrt(30.5 * 3.3) * quantization_quality("4bit"), 1e-9);
  const uint64_t kv = moe->need.kv_cache;
  EXPECT_EQ(moe->bytes_per_token, uint64_t(double(moe->need.weights) * 3.3 / 30.5) + kv / 2);
  EXPECT_NEAR(moe->tokens_per_s, 100e9 / double(moe->bytes_per_token), 1e-6);
  EXPECT_GE(moe->need.weights, uint64_t(17.2e9));  // every expert is resident
  EXPECT_EQ(moe->to_json()["active_parameters_b"], 3.3);

  nlohmann::json bad = user;
  bad["models"][0]["active_parameters_b"] = 31.0;
  write_file_atomic(dir / "bad.json", bad.dump());
  EXPECT_THROW(catalogue.merge_file(dir / "bad.json"), Error);
}

}  // namespace
}  // namespace mlxcpp
