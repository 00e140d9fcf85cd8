// Classifier-free guidance: the formula, one batched forward, rescale, interval, bad options.
#include "core/guidance.h"

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

using test::max_abs;

// A conditional "model" whose x0 is x * (1 + label) (null label -1 gives 0), counting calls.
struct CountingModel {
  int calls = 0;
  std::vector<int64_t> batch_sizes;
  ConditionalDenoiser fn() {
    return [this](const torch::Tensor& x, const torch::Tensor&, const Condition& c) {
      ++calls;
      batch_sizes.push_back(x.size(0));
      return x * (1.0 + c.labels.to(torch::kFloat64)).view({-1, 1});
    };
  }
};

const auto kSigma = torch::scalar_tensor(2.0, torch::kFloat64);

TEST(Cfg, CombinesInOneBatchedForward) {
  CountingModel m;
  const auto x = torch::randn({3, 4}, torch::kFloat64);
  GuidanceOptions o;
  o.scale = 3.0;
  const auto labels = torch::tensor({0, 1, 2}, torch::kLong);
  const auto out = cfg(m.fn(), Condition{labels}, Condition{torch::full({3}, -1L)}, o)(x, kSigma);
  EXPECT_EQ(m.calls, 1);
  EXPECT_EQ(m.batch_sizes[0], 6);
  const auto cond = x * (1.0 + labels.to(torch::kFloat64)).view({-1, 1});
  const auto uncond = torch::zeros_like(x);
  EXPECT_LE(max_abs(out, uncond + 3.0 * (cond - uncond)), 1e-12);
}

TEST(Cfg, ScaleOneAndOutsideIntervalRunOnlyTheConditionalPass) {
  CountingModel m;
  const auto x = torch::randn({2, 4}, torch::kFloat64);
  const Condition c{torch::tensor({1, 1}, torch::kLong)}, u{torch::full({2}, -1L)};
  GuidanceOptions o;
  cfg(m.fn(), c, u, o)(x, kSigma);
  o.scale = 5.0;
  o.sigma_lo = 3.0;
  o.sigma_hi = 10.0;
  const auto out = cfg(m.fn(), c, u, o)(x, kSigma);  // sigma 2 outside [3, 10]
  EXPECT_EQ(m.batch_sizes, (std::vector<int64_t>{2, 2}));
  EXPECT_LE(max_abs(out, 2 * x), 1e-12);
  cfg(m.fn(), c, u, o)(x, torch::scalar_tensor(5.0, torch::kFloat64));  // inside: guided
  EXPECT_EQ(m.batch_sizes.back(), 4);
}

// Two scales (InstructPix2Pix): x0 = x (1 + label) + context, so u = 0, f = C and c = x (1 + L) + C,
// and out = u + F (f - u) + S (c - f) = F C + S x (1 + L), in one forward of three passes; F = S
// is one-scale CFG in two.
TEST(Cfg, AContextScaleOfItsOwnIsAThirdPass) {
  std::vector<int64_t> batches;
  const ConditionalDenoiser model = [&batches](const torch::Tensor& x, const torch::Tensor&, const Condition& c) {
    batches.push_back(x.size(0));
    return x * (1.0 + c.labels.to(torch::kFloat64)).view({-1, 1}) + c.context;
  };
  const auto x = torch::randn({3, 4}, torch::kFloat64), ctx = torch::randn({3, 4}, torch::kFloat64);
  const auto labels = torch::tensor({0, 1, 2}, torch::kLong), null = torch::full({3}, -1L);
  Condition c{labels}, u{null}, f{null};
  c.context = f.context = ctx;
  u.context = torch::zeros_like(ctx);
  GuidanceOptions o;
  o.scale = 3.0;
  o.context_scale = 7.0;
  const auto out = cfg(model, c, u, o, f)(x, kSigma);
  EXPECT_EQ(batches, (std::vector<int64_t>{9}));
  EXPECT_LE(max_abs(out, 7.0 * ctx + 3.0 * x * (1.0 + labels.to(torch::kFloat64)).view({-1, 1})), 1e-12);
  o.context_scale = 3.0;
  EXPECT_LE(max_abs(cfg(model, c, u, o, f)(x, kSigma), cfg(model, c, u, GuidanceOptions{3.0}, f)(x, kSigma)), 1e-12);
  EXPECT_EQ(batches.back(), 6);
  o.context_scale = 7.0;
  EXPECT_THROW(cfg(model, c, u, o), std::invalid_argument);  // no context-only condition
  o.context_scale = -1.0;
  EXPECT_THROW(validate(o), std::invalid_argument);
}

TEST(RescaleGuidance, MatchesDiffusersFormula) {
  const auto g = torch::randn({2, 5}, torch::kFloat64), c = torch::randn({2, 5}, torch::kFloat64);
  const auto out = rescale_guidance(g, c, 0.7);
  for (int64_t i = 0; i < 2; ++i) {
    const double ratio = c[i].std().item<double>() / g[i].std().item<double>();  // unbiased
    EXPECT_LE(max_abs(out[i], 0.7 * g[i] * ratio + 0.3 * g[i]), 1e-12);
  }
  EXPECT_LE(max_abs(rescale_guidance(g, c, 0.0), g), 0.0);
}

TEST(GuidanceOptions, BadValuesAreRejectedWithTheValue) {
  GuidanceOptions o;
  o.scale = -1;
  try {
    validate(o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("guidance scale must be >= 0"), std::string::npos);
  }
  o = {};
  o.rescale = 1.5;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o = {};
  o.sigma_lo = 5;
  o.sigma_hi = 1;
  EXPECT_THROW(validate(o), std::invalid_argument);
}

}  // namespace
}  // namespace diffuse
