// One suite over every registered sampler (no per-name cases), plus the identities between them.
#include "core/samplers/samplers.h"

#include <torch/torch.h>

#include "core/analytic.h"
#include "core/engine.h"
#include "core/schedules.h"
#include "tests/core/test_util.h"

namespace diffuse {
namespace {

using test::max_abs;

// For data N(0, s^2) the ideal denoiser is x s^2 / (s^2 + sigma^2).
Denoiser gaussian_denoiser(double s) {
  return [s](const torch::Tensor& x, const torch::Tensor& sigma) {
    const double sg = sigma.item<double>();
    return x * (s * s / (s * s + sg * sg));
  };
}

// Initial noise and sampler noise from one generator per item, as the engine does.
torch::Tensor sample_with_seeds(const std::string& name, const std::vector<uint64_t>& seeds, const Denoiser& d,
                                const torch::Tensor& sigmas, int64_t dim) {
  SeededNoise noise(seeds);
  const auto x = noise.draw(torch::zeros({int64_t(seeds.size()), dim}, torch::kFloat64)) * sigmas[0].item<double>();
  return run_sampler(name, d, x, sigmas, noise);
}

class EverySampler : public ::testing::TestWithParam<std::string> {};

TEST_P(EverySampler, RecoversGaussianDataMoments) {
  const double s = 0.5;
  // 200 steps: first-order samplers are still ~6% (ODE) and ~10% (ancestral) low at 50.
  const auto sigmas = karras_sigmas(200, 0.002, 80.0);
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < 4000; ++i) seeds.push_back(i);
  const auto x = sample_with_seeds(GetParam(), seeds, gaussian_denoiser(s), sigmas, 4);  // 16000 values
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 0.03);
  EXPECT_NEAR(x.std().item<double>() / s, 1.0, 0.04) << GetParam();
}

TEST_P(EverySampler, ItemDoesNotDependOnBatchSize) {
  const auto gmm = GaussianMixture::toy2d();
  Denoiser d = [&gmm](const torch::Tensor& x, const torch::Tensor& sigma) { return gmm.posterior_mean(x, 1.0, sigma.item<double>()); };
  const auto sigmas = karras_sigmas(12, 0.01, 20.0);
  const auto batch = sample_with_seeds(GetParam(), {10, 11, 12, 13, 14}, d, sigmas, 2);
  const auto single = sample_with_seeds(GetParam(), {12}, d, sigmas, 2);
  EXPECT_EQ(max_abs(batch[2], single[0]), 0.0) << GetParam();
}

TEST_P(EverySampler, EngineReportsProgressAfterEveryStepOfEveryBatch) {
  const auto gmm = GaussianMixture::toy2d();
  ConditionalDenoiser d = [&gmm](const torch::Tensor& x, const torch::Tensor& sigma, const Condition&) {
    return gmm.posterior_mean(x, 1.0, sigma.item<double>());
  };
  SampleRequest r;
  r.item_shape = {2};
  r.n = 5;
  r.batch = 2;  // batches of 2, 2 and 1
  r.steps = 6;
  r.sampler = GetParam();
  r.options = r.options.dtype(torch::kFloat64);
  std::vector<std::pair<int64_t, int64_t>> calls;
  r.progress = [&calls](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  sample(d, r);
  ASSERT_GE(calls.size(), size_t(3 * r.steps)) << GetParam();
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].second, r.n * r.steps);
    if (i > 0) {
      EXPECT_GE(calls[i].first, calls[i - 1].first) << GetParam();
    }
  }
  EXPECT_EQ(calls.back().first, r.n * r.steps);
  EXPECT_EQ(calls[size_t(r.steps) - 1].first, 2 * r.steps) << GetParam();  // the first batch's last step
}

TEST_P(EverySampler, ItemDoesNotDependOnThreadCount) {
  const auto gmm = GaussianMixture::toy2d();
  Denoiser d = [&gmm](const torch::Tensor& x, const torch::Tensor& sigma) { return gmm.posterior_mean(x, 1.0, sigma.item<double>()); };
  const auto sigmas = karras_sigmas(8, 0.01, 20.0);
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < 3000; ++i) seeds.push_back(i);  // big enough to run in parallel
  const int before = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto one = sample_with_seeds(GetParam(), seeds, d, sigmas, 2);
  torch::set_num_threads(2);
  const auto two = sample_with_seeds(GetParam(), seeds, d, sigmas, 2);
  torch::set_num_threads(before);
  EXPECT_LE(max_abs(one, two), 1e-12) << GetParam();
}

TEST_P(EverySampler, StopsOnNonFiniteStateNamingStepAndSigma) {
  Denoiser d = [](const torch::Tensor& x, const torch::Tensor& sigma) {
    return sigma.item<double>() < 1.0 ? x * std::numeric_limits<double>::quiet_NaN() : x * 0.5;
  };
  SeededNoise noise({1, 2});
  try {
    run_sampler(GetParam(), d, torch::ones({2, 3}, torch::kFloat64), karras_sigmas(10, 0.1, 10.0), noise);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("non-finite"), std::string::npos) << m;
    EXPECT_NE(m.find("after step"), std::string::npos) << m;
    EXPECT_NE(m.find("sigma"), std::string::npos) << m;
  }
}

TEST_P(EverySampler, RejectsIncreasingSigmasAndNegativeEta) {
  SeededNoise noise({1});
  const auto x = torch::zeros({1, 2}, torch::kFloat64);
  EXPECT_THROW(run_sampler(GetParam(), gaussian_denoiser(1), x, torch::tensor({1.0, 2.0, 0.0}, torch::kFloat64), noise),
               std::invalid_argument);
  EXPECT_THROW(run_sampler(GetParam(), gaussian_denoiser(1), x, torch::tensor({1.0}, torch::kFloat64), noise),
               std::invalid_argument);
  SamplerOptions o;
  o.eta = -1;
  EXPECT_THROW(run_sampler(GetParam(), gaussian_denoiser(1), x, karras_sigmas(3, 0.1, 1), noise, o), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Registry, EverySampler, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (const auto& s : samplers()) names.push_back(s.name);
                           return names;
                         }()),
                         [](const auto& info) { return info.param; });

TEST(Samplers, FlowEulerEqualsEulerAndDdim) {
  // Euler steps are the same line in VE, VP (DDIM, eta 0) and flow coordinates.
  const auto gmm = GaussianMixture::toy2d();
  Denoiser d = [&gmm](const torch::Tensor& x, const torch::Tensor& sigma) { return gmm.posterior_mean(x, 1.0, sigma.item<double>()); };
  const auto sigmas = karras_sigmas(15, 0.01, 30.0);
  const auto x = torch::randn({64, 2}, torch::kFloat64) * 30.0;
  SeededNoise noise = SeededNoise::consecutive(0, 64);
  const auto euler = run_sampler("euler", d, x, sigmas, noise);
  EXPECT_LE(max_abs(run_sampler("flow_euler", d, x, sigmas, noise), euler), 1e-12);
  EXPECT_LE(max_abs(run_sampler("ddim", d, x, sigmas, noise), euler), 1e-12);
}

// CFG's unconditional pass takes the request's null context where there is one (Stable Video
// Diffusion's guidance toward its conditioning frame), batch by batch; the conditional pass keeps
// the condition's. One Euler step to sigma 0 returns the guided clean estimate itself.
TEST(Engine, NullContextEntersOnlyTheUnconditionalPass) {
  ConditionalDenoiser d = [](const torch::Tensor& x, const torch::Tensor&, const Condition& c) { return c.context + 0.0 * x; };
  SampleRequest r;
  r.item_shape = {2};
  r.n = 3;
  r.batch = 2;
  r.steps = 1;
  r.sampler = "euler";
  r.options = r.options.dtype(torch::kFloat64);
  r.guidance.scale = 3.0;
  r.null_label = 5;
  r.condition.labels = torch::zeros({3}, torch::kLong);
  r.condition.context = torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64).view({3, 1}).expand({3, 2}).contiguous();
  EXPECT_LE(max_abs(sample(d, r), r.condition.context), 1e-12);  // without it, both passes see the context
  r.null_context = torch::tensor({0.0, 0.5, 1.0}, torch::kFloat64).view({3, 1}).expand({3, 2}).contiguous();
  EXPECT_LE(max_abs(sample(d, r), r.null_context + 3.0 * (r.condition.context - r.null_context)), 1e-12);
  r.condition.context = torch::Tensor();
  EXPECT_THROW(sample(d, r), std::invalid_argument);
}

TEST(Samplers, UnknownNameListsValidOnes) {
  try {
    find_sampler("eulr");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown sampler 'eulr'; one of: euler, euler_a, heun"), std::string::npos) << e.what();
  }
}

TEST(Samplers, AncestralEtaZeroIsTheOdeSampler) {
  const auto gmm = GaussianMixture::toy2d();
  Denoiser d = [&gmm](const torch::Tensor& x, const torch::Tensor& sigma) { return gmm.posterior_mean(x, 1.0, sigma.item<double>()); };
  const auto sigmas = karras_sigmas(10, 0.01, 30.0);
  const auto x = torch::randn({32, 2}, torch::kFloat64) * 30.0;
  SeededNoise noise = SeededNoise::consecutive(0, 32);
  SamplerOptions o;
  o.eta = 0.0;
  EXPECT_LE(max_abs(run_sampler("euler_a", d, x, sigmas, noise, o), run_sampler("euler", d, x, sigmas, noise)), 1e-12);
  EXPECT_LE(max_abs(run_sampler("dpmpp_2m_sde", d, x, sigmas, noise, o), run_sampler("dpmpp_2m", d, x, sigmas, noise)), 1e-12);
}

TEST(Samplers, HeunChurnDrawsNoiseAndChangesTheResult) {
  const auto sigmas = karras_sigmas(10, 0.01, 10.0);
  const auto x = torch::ones({2, 2}, torch::kFloat64) * 10.0;
  SeededNoise n1({1, 2}), n2({1, 2});
  SamplerOptions o;
  o.s_churn = 10.0;
  const auto plain = run_sampler("heun", gaussian_denoiser(1.0), x, sigmas, n1);
  const auto churned = run_sampler("heun", gaussian_denoiser(1.0), x, sigmas, n2, o);
  EXPECT_GT(max_abs(plain, churned), 1e-3);
}

}  // namespace
}  // namespace diffuse

namespace diffuse {
namespace {

std::vector<double> vec(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Noise drawn from a list, for replaying a stochastic sampler against a hand-written one.
class ListNoise : public NoiseSource {
 public:
  explicit ListNoise(std::vector<torch::Tensor> draws) : draws_(std::move(draws)) {}
  torch::Tensor draw(const torch::Tensor& like) override { return draws_.at(next_++).to(like.options()); }

 private:
  std::vector<torch::Tensor> draws_;
  size_t next_ = 0;
};

// diffusers' DDIMScheduler.step and DDPMScheduler.step (epsilon prediction, set_alpha_to_one,
// fixed_small variance), written out as the library does it, in VP terms: DDIM goes from t to
// prev_t = t - T // n whatever the next timestep is, DDPM to the next timestep (its
// previous_timestep); both round linspace timesteps to integers. diffuse's ddim and ddpm on the
// same discrete-* grid must land on the same states to 1e-10 for every spacing and for step counts
// that do not divide the 1,000 training timesteps.
TEST(DiffusersSteps, DdimAndDdpmMatchTheLibraryForEverySpacingAndStepCount) {
  const auto g = GaussianMixture::toy2d();
  const auto ac = alphas_cumprod_from_betas(make_betas(BetaSchedule::kScaledLinear));
  const int64_t T = ac.size(0);
  const auto acv = [&](double t) { return t >= 0 ? ac[int64_t(t)].item<double>() : 1.0; };
  auto gen = at::detail::createCPUGenerator(3);
  const auto start = torch::randn({16, 2}, gen, torch::kFloat64);
  for (const std::string spacing : {"trailing", "leading", "linspace"}) {
    for (const int64_t n : {6, 10, 13, 30}) {
      const std::string schedule = "discrete-" + spacing;
      const auto t = vec(spaced_timesteps(T, n, spacing_from_name(spacing), 0, true));
      std::vector<torch::Tensor> noise;
      for (int64_t i = 0; i < n; ++i) noise.push_back(torch::randn({16, 2}, gen, torch::kFloat64));
      for (const std::string sampler : {"ddim", "ddpm"}) {
        // The library, in VP terms.
        auto x = start.clone();
        std::vector<torch::Tensor> states;
        for (int64_t i = 0; i < n; ++i) {
          const double next = i + 1 < n ? t[size_t(i + 1)] : -1.0;
          const double a_t = acv(t[size_t(i)]), prev = sampler == "ddim" ? t[size_t(i)] - double(T / n) : next, a_prev = acv(prev);
          const auto x0 = g.posterior_mean(x, std::sqrt(a_t), std::sqrt(1 - a_t));
          const auto eps = (x - std::sqrt(a_t) * x0) / std::sqrt(1 - a_t);
          if (sampler == "ddim") {
            x = std::sqrt(a_prev) * x0 + std::sqrt(1 - a_prev) * eps;
          } else {
            const double beta_t = 1 - a_t / a_prev;
            x = (std::sqrt(a_prev) * beta_t / (1 - a_t)) * x0 + (std::sqrt(a_t / a_prev) * (1 - a_prev) / (1 - a_t)) * x;
            // (The library also adds sqrt(1e-20) = 1e-10 times fresh noise on the step to t < 0.)
            if (prev >= 0) x = x + std::sqrt(std::max((1 - a_prev) / (1 - a_t) * beta_t, 1e-20)) * noise[size_t(i)];
          }
          states.push_back(x);
        }
        // diffuse: the same grid and targets through the registry sampler, on VE states.
        // (The engine rounds linspace timesteps for ddim and ddpm and passes both the targets.)
        ScheduleOptions so;
        so.round_timesteps = true;
        const auto sigmas = make_sigmas(schedule, n, so);
        SamplerOptions o;
        o.step_targets = discrete_step_targets(schedule, n, so);
        EXPECT_EQ(o.step_targets.empty(), spacing == "leading" || (spacing == "trailing" && T % n == 0)) << spacing << " " << n;
        double err = 0;
        const auto sv = vec(sigmas);
        o.callback = [&](int64_t i, const torch::Tensor& xs, double s) {
          const double a = 1.0 / (1.0 + s * s);
          err = std::max(err, (xs * std::sqrt(a) - states[size_t(i)]).abs().max().item<double>());
        };
        ListNoise ln(noise);
        const Denoiser d = [&](const torch::Tensor& xs, const torch::Tensor& s) { return g.posterior_mean(xs, 1.0, s.item<double>()); };
        run_sampler(sampler, d, start * std::sqrt(1 + sv[0] * sv[0]), sigmas, ln, o);
        EXPECT_LT(err, 1e-10) << sampler << " " << spacing << " n=" << n;
        if (sampler == "ddim" && !o.step_targets.empty()) {  // and the grid alone would not match: the targets matter
          SamplerOptions plain;
          double plain_err = 0;
          plain.callback = [&](int64_t i, const torch::Tensor& xs, double s) {
            plain_err = std::max(plain_err, (xs / std::sqrt(1.0 + s * s) - states[size_t(i)]).abs().max().item<double>());
          };
          ListNoise ln2(noise);
          run_sampler(sampler, d, start * std::sqrt(1 + sv[0] * sv[0]), sigmas, ln2, plain);
          EXPECT_GT(plain_err, 1e-6) << spacing << " n=" << n;
        }
      }
    }
  }
}

}  // namespace
}  // namespace diffuse
