// Training objectives: targets agree with the sampling adapters, weights match their papers.
#include "core/condition.h"
#include "core/objectives.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/schedules.h"
#include "tests/core/test_util.h"

namespace diffuse {
namespace {

using test::max_abs;

ObjectiveOptions vp_options(Prediction p) {
  ObjectiveOptions o;
  o.kind = ModelKind::kVpDiscrete;
  o.prediction = p;
  o.alphas_cumprod = alphas_cumprod_from_betas(make_betas(BetaSchedule::kScaledLinear));
  return o;
}

// A network that outputs exactly its target must be turned back into x0 by the matching denoiser.
TEST(Objectives, PerfectPredictionDenoisesExactly) {
  auto gen = at::detail::createCPUGenerator(0);
  const auto x0 = torch::randn({8, 3}, gen, torch::kFloat64), noise = torch::randn({8, 3}, gen, torch::kFloat64);
  struct Case { ObjectiveOptions o; };
  std::vector<ObjectiveOptions> cases = {vp_options(Prediction::kEpsilon), vp_options(Prediction::kSample),
                                         vp_options(Prediction::kVelocity)};
  ObjectiveOptions flow;
  flow.kind = ModelKind::kFlow;
  flow.sampling = SigmaSampling::kLogitNormal;
  cases.push_back(flow);
  ObjectiveOptions edm;
  edm.kind = ModelKind::kEdm;
  edm.sampling = SigmaSampling::kLogNormal;
  cases.push_back(edm);
  for (const auto& o : cases) {
    const auto draw = sample_sigmas(8, o, gen);
    const auto ex = make_example(x0, noise, draw, o);
    EXPECT_EQ(diffusion_loss(ex.target, ex).item<double>(), 0.0);
    for (int64_t i = 0; i < 8; ++i) {
      const double sigma = draw.sigma[i].item<double>();
      const auto xi = x0.slice(0, i, i + 1) + sigma * noise.slice(0, i, i + 1);  // VE state
      const auto target = ex.target.slice(0, i, i + 1);
      Network net = [&](const torch::Tensor&, const torch::Tensor&) { return target; };
      Denoiser d = o.kind == ModelKind::kFlow ? flow_denoiser(net)
                   : o.kind == ModelKind::kEdm ? edm_denoiser(net, o.sigma_data)
                                               : vp_denoiser(net, o.prediction, o.alphas_cumprod);
      EXPECT_LE(max_abs(d(xi, torch::scalar_tensor(sigma, torch::kFloat64)), x0.slice(0, i, i + 1)), 1e-8)
          << "kind " << int(o.kind) << " prediction " << to_string(o.prediction) << " sigma " << sigma;
    }
  }
}

TEST(LossWeight, MinSnrMatchesHangEtAl) {
  auto o = vp_options(Prediction::kEpsilon);
  o.weighting = LossWeighting::kMinSnr;
  o.min_snr_gamma = 5.0;
  const auto sigma = torch::tensor({0.1, 1.0, 3.0}, torch::kFloat64);
  const auto snr = 1.0 / sigma.pow(2);
  EXPECT_LE(max_abs(loss_weight(sigma, o), snr.clamp_max(5.0) / snr), 1e-12);  // eps: min(snr, g) / snr
  o.prediction = Prediction::kVelocity;
  EXPECT_LE(max_abs(loss_weight(sigma, o), snr.clamp_max(5.0) / (snr + 1)), 1e-12);  // v: min(snr, g) / (snr + 1)
  o.prediction = Prediction::kSample;
  EXPECT_LE(max_abs(loss_weight(sigma, o), snr.clamp_max(5.0)), 1e-12);
}

TEST(LossWeight, EdmWeightOnFIsOne) {
  // Karras et al. 2022: lambda(sigma) c_out(sigma)^2 = 1, so the loss on F is unweighted.
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.weighting = LossWeighting::kEdm;
  const auto sigma = torch::tensor({0.01, 0.5, 40.0}, torch::kFloat64);
  EXPECT_LE(max_abs(loss_weight(sigma, o), torch::ones_like(sigma)), 1e-12);
}

TEST(SigmaSampling, LogNormalHasTheEdmMoments) {
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  auto gen = at::detail::createCPUGenerator(3);
  const auto log_s = sample_sigmas(200000, o, gen).sigma.log();
  EXPECT_NEAR(log_s.mean().item<double>(), -1.2, 0.02);
  EXPECT_NEAR(log_s.std().item<double>(), 1.2, 0.02);
}

TEST(DropLabels, DropsAboutTheRequestedFraction) {
  auto gen = at::detail::createCPUGenerator(1);
  const auto labels = torch::zeros({100000}, torch::kLong);
  const auto dropped = drop_labels(labels, 10, 0.1, gen);
  EXPECT_NEAR((dropped == 10).to(torch::kFloat64).mean().item<double>(), 0.1, 0.005);
  EXPECT_THROW(drop_labels(labels, 10, 1.5, gen), std::invalid_argument);
}

TEST(DropConditions, EveryConditionFieldDropsToItsNullAndTheStructureStays) {
  const int64_t n = 20000;
  Condition c;
  c.labels = torch::zeros({n}, torch::kLong);
  c.vectors = torch::ones({n, 3});
  c.frames = torch::ones({n, 2, 2});
  c.mask = torch::ones({n, 5}, torch::kBool);
  c.independent = torch::zeros({n}, torch::kBool);
  auto gen = at::detail::createCPUGenerator(7);
  const auto d = drop_conditions(c, {0.1, 10, 0.3, 0.5}, gen);
  auto share = [](const torch::Tensor& t) { return t.to(torch::kFloat64).mean().item<double>(); };
  EXPECT_NEAR(share(d.labels == 10), 0.1, 0.01);
  const auto v_null = torch::isnan(d.vectors);
  EXPECT_NEAR(share(v_null.select(1, 0)), 0.3, 0.015);
  EXPECT_TRUE(torch::equal(v_null.all(1), v_null.any(1)));  // whole rows: the null vector, not a NaN entry
  const auto f_null = torch::isnan(d.frames).flatten(1);
  EXPECT_NEAR(share(f_null.all(1)), 0.5, 0.015);
  EXPECT_TRUE(torch::equal(f_null.all(1), f_null.any(1)));
  EXPECT_TRUE(torch::equal(d.mask, c.mask));  // never dropped
  EXPECT_TRUE(torch::equal(d.independent, c.independent));
  // Fields are dropped independently of one another.
  EXPECT_NEAR(share((d.labels == 10).logical_and(v_null.select(1, 0))), 0.03, 0.006);
  // The labels' draws come first, so a model that adds a condition field keeps its label dropout.
  auto gen_labels = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(d.labels, drop_labels(c.labels, 10, 0.1, gen_labels)));
  // Without a null label there is no label dropout; p outside [0, 1] is refused.
  auto gen2 = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(drop_conditions(c, {0.5, -1, 0, 0}, gen2).labels, c.labels));
  EXPECT_THROW(drop_conditions(c, {0.1, 10, 1.5, 0}, gen2), std::invalid_argument);
}

// A context (a video's first frame) is dropped to zeros, then noise-augmented: sigma log-normal
// per item, the context moved by sigma times unit Gaussian noise, and the level handed on.
TEST(Condition, ContextIsDroppedToZerosAndNoiseAugmentedWithItsLevel) {
  const int64_t n = 4000;
  Condition c;
  c.labels = torch::zeros({n}, torch::kLong);
  c.context = torch::ones({n, 2, 1, 3, 3});
  auto gen = at::detail::createCPUGenerator(11);
  ConditionDropout p;
  p.context = 0.25;
  p.context_noise_mean = -3.0;
  p.context_noise_std = 0.5;
  const auto d = drop_conditions(c, p, gen);
  ASSERT_TRUE(d.context_noise.defined());
  const auto sigma = d.context_noise.to(torch::kFloat64);
  EXPECT_NEAR(sigma.log().mean().item<double>(), -3.0, 0.03);
  EXPECT_NEAR(sigma.log().std().item<double>(), 0.5, 0.03);
  // Kept items: 1 + sigma z; dropped: sigma z. Their means tell them apart (sigma < 0.5 here).
  const auto mean = d.context.flatten(1).mean(1).to(torch::kFloat64);
  const auto dropped = mean < 0.5;
  EXPECT_NEAR(dropped.to(torch::kFloat64).mean().item<double>(), 0.25, 0.02);
  // The residual over sigma is unit noise.
  const auto z = (d.context.to(torch::kFloat64) - (~dropped).to(torch::kFloat64).view({n, 1, 1, 1, 1})) / sigma.view({n, 1, 1, 1, 1});
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.02);
  // The labels' draws come first and are unchanged by the context's.
  auto gen2 = at::detail::createCPUGenerator(11);
  EXPECT_TRUE(torch::equal(drop_conditions(c, {0.0, 10, 0.0, 0.0}, gen2).labels, c.labels));
  // Without augmentation the context stays clean and has no level.
  auto gen3 = at::detail::createCPUGenerator(11);
  const auto clean = drop_conditions(c, {0.0, 10, 0.0, 0.0}, gen3);
  EXPECT_TRUE(torch::equal(clean.context, c.context));
  EXPECT_FALSE(clean.context_noise.defined());
  EXPECT_EQ(d.select(torch::tensor({3, 1})).context_noise.size(0), 2);
}

TEST(Condition, SelectSliceAndCatKeepEveryField) {
  Condition c;
  c.labels = torch::arange(4);
  c.mask = torch::arange(8).view({4, 2}) > 2;
  c.independent = torch::tensor({true, false, true, false});
  const auto s = c.select(torch::tensor({3, 1}));
  EXPECT_EQ(s.batch(), 2);
  EXPECT_TRUE(torch::equal(s.labels, torch::tensor({3, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(s.independent, torch::tensor({false, false})));
  EXPECT_TRUE(torch::equal(c.slice(1, 3).mask, c.mask.slice(0, 1, 3)));
  EXPECT_FALSE(s.vectors.defined());
  EXPECT_EQ(Condition::cat(c, s).batch(), 6);
  EXPECT_TRUE(Condition{}.empty());
}

}  // namespace
}  // namespace diffuse
