// Convergence order of the deterministic ODE samplers, and sample quality of every sampler, on
// the analytic mixture (label: slow). The reference is RK4 in log-sigma with 8000 steps.
#include <torch/torch.h>

#include <cmath>

#include "core/analytic.h"
#include "core/noise.h"
#include "core/ode.h"
#include "core/samplers/samplers.h"
#include "core/schedules.h"
#include "tests/core/test_util.h"

namespace diffuse {
namespace {

constexpr double kSigmaMin = 0.03, kSigmaMax = 15.0;  // the SD range, as in shared/reference/sanity.json

struct Fixture {
  GaussianMixture gmm = GaussianMixture::toy2d();
  Denoiser denoise = [this](const torch::Tensor& x, const torch::Tensor& s) { return gmm.posterior_mean(x, 1.0, s.item<double>()); };
  torch::Tensor x = SeededNoise::consecutive(0, 256).draw(torch::zeros({256, 2}, torch::kFloat64)) * kSigmaMax;
  torch::Tensor ref = solve_pf_ode(denoise, x, kSigmaMax, kSigmaMin, 8000);
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Error at sigma_min after n steps on a Karras grid that stops there (no final step to 0).
double error_at(const std::string& sampler, int64_t n, const SamplerOptions& o) {
  auto& f = fixture();
  const auto sigmas = karras_sigmas(n, kSigmaMin, kSigmaMax).slice(0, 0, n);  // n values: n - 1 steps
  SeededNoise noise = SeededNoise::consecutive(0, 256);
  const auto out = run_sampler(sampler, f.denoise, f.x, sigmas, noise, o);
  return (out - f.ref).abs().max().item<double>();
}

struct OrderCase {
  std::string name;
  std::string sampler;
  double order;
  SamplerOptions opts;
};

void PrintTo(const OrderCase& c, std::ostream* os) { *os << c.name; }

class ConvergenceOrder : public ::testing::TestWithParam<OrderCase> {};

TEST_P(ConvergenceOrder, MatchesTheoryWithin0_3) {
  const auto& c = GetParam();
  std::vector<double> logn, loge;
  for (int64_t n : {41, 81, 161, 321}) {  // 40, 80, 160, 320 steps: the asymptotic regime
    const double e = error_at(c.sampler, n, c.opts);
    logn.push_back(std::log(double(n - 1)));
    loge.push_back(std::log(e));
    std::printf("%-17s steps %4ld  error %.3e\n", c.name.c_str(), long(n - 1), e);
  }
  // Least-squares slope of log error against log steps.
  double mx = 0, my = 0;
  for (size_t i = 0; i < logn.size(); ++i) { mx += logn[i]; my += loge[i]; }
  mx /= double(logn.size());
  my /= double(logn.size());
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < logn.size(); ++i) { sxy += (logn[i] - mx) * (loge[i] - my); sxx += (logn[i] - mx) * (logn[i] - mx); }
  const double observed = -sxy / sxx;
  std::printf("%-17s observed order %.2f (theory %.0f)\n", c.name.c_str(), observed, c.order);
  EXPECT_NEAR(observed, c.order, 0.3) << c.sampler;
}

// UniPC-p (predictor of order p plus the UniC corrector) converges with order p + 1
// (Zhao et al. 2023, Corollary 3.3). lower_order_final is off: a lower-order last step would
// cap the global order.
SamplerOptions unipc(int p) {
  SamplerOptions o;
  o.order = p;
  o.solver_type = "bh2";
  o.lower_order_final = false;
  return o;
}

INSTANTIATE_TEST_SUITE_P(OdeSamplers, ConvergenceOrder,
                         ::testing::Values(OrderCase{"euler", "euler", 1, {}}, OrderCase{"ddim", "ddim", 1, {}},
                                           OrderCase{"heun", "heun", 2, {}}, OrderCase{"dpmpp_2m", "dpmpp_2m", 2, {}},
                                           OrderCase{"unipc_bh2_order2", "unipc", 3, unipc(2)},
                                           OrderCase{"unipc_bh2_order3", "unipc", 4, unipc(3)}),
                         [](const auto& info) { return info.param.name; });

// Every sampler at 50 steps: sliced Wasserstein to exact mixture samples near the floor set by
// two independent exact sample sets of the same size.
TEST(SampleQuality, EverySamplerAt50StepsIsNearTheExactSampleFloor) {
  auto& f = fixture();
  const int64_t n = 10000;
  const auto exact = f.gmm.sample(n, 1);
  const double floor = sliced_wasserstein(exact, f.gmm.sample(n, 2));
  const auto sigmas = karras_sigmas(50, kSigmaMin, kSigmaMax);
  SeededNoise init = SeededNoise::consecutive(1000, n);
  const auto x = init.draw(torch::zeros({n, 2}, torch::kFloat64)) * kSigmaMax;
  for (const auto& s : samplers()) {
    SeededNoise noise = SeededNoise::consecutive(5000, n);
    const double sw = sliced_wasserstein(run_sampler(s.name, f.denoise, x, sigmas, noise), exact);
    std::printf("%-13s sliced W2 %.4f (floor %.4f)\n", s.name.c_str(), sw, floor);
    EXPECT_LE(sw, 2.0 * floor + 0.01) << s.name;
  }
}

}  // namespace
}  // namespace diffuse
