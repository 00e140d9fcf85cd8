// The analytic mixture denoiser against the reference point evaluations, and the
// parameterisation conversions and adapters.
#include "core/denoiser.h"

#include "core/analytic.h"
#include "core/schedules.h"
#include "tests/core/test_util.h"

namespace diffuse {
namespace {

using test::max_abs;
using test::tensor_from;

TEST(GaussianMixture, PosteriorMeanMatchesReferencePoints) {
  DIFFUSE_REQUIRE_REFERENCE();
  for (const char* file : {"denoiser_d2.json", "denoiser_d16.json"}) {
    const auto j = read_json_file(test::reference_path(file));
    const auto gmm = GaussianMixture::from_json(j.at("denoiser").at("gmm"));
    for (const auto& c : j.at("checks")) {
      const double a = c.at("a"), s = c.at("s");
      const auto x_t = tensor_from(c.at("x_t"));
      const auto x0 = gmm.posterior_mean(x_t, a, s);
      EXPECT_LE(max_abs(x0, tensor_from(c.at("x0"))), 1e-12) << file << " a=" << a << " s=" << s;
      EXPECT_LE(max_abs(gmm.posterior_mean(x_t, a, s, gmm.class_weights[0]), tensor_from(c.at("x0_class0"))), 1e-12);
      if (s == 0) continue;
      const Scaling k{a, s};
      const auto eps = prediction_from_x0(Prediction::kEpsilon, x0, x_t, k);
      EXPECT_LE(max_abs(eps, tensor_from(c.at("epsilon"))), 1e-10) << file;
      EXPECT_LE(max_abs(prediction_from_x0(Prediction::kVelocity, x0, x_t, k), tensor_from(c.at("v_prediction"))), 1e-10);
      EXPECT_LE(max_abs(eps - x0, tensor_from(c.at("flow_velocity"))), 1e-10);
      if (std::abs(a + s - 1.0) < 1e-15) {
        EXPECT_LE(max_abs(prediction_from_x0(Prediction::kFlow, x0, x_t, k), tensor_from(c.at("flow_velocity"))), 1e-10);
      }
    }
  }
}

TEST(Predictions, RoundTripThroughX0) {
  const auto x0 = torch::randn({4, 3}, torch::kFloat64), eps = torch::randn({4, 3}, torch::kFloat64);
  for (double sigma : {0.05, 1.0, 20.0}) {
    for (auto p : {Prediction::kEpsilon, Prediction::kSample, Prediction::kVelocity, Prediction::kFlow}) {
      const Scaling k = p == Prediction::kFlow ? flow_scaling(sigma) : vp_scaling(sigma);
      const auto x_t = k.a * x0 + k.s * eps;
      const auto pred = prediction_from_x0(p, x0, x_t, k);
      EXPECT_LE(max_abs(x0_from_prediction(p, pred, x_t, k), x0), 1e-12) << to_string(p) << " sigma=" << sigma;
    }
    // The predictions are the textbook ones.
    const Scaling k = vp_scaling(sigma);
    const auto x_t = k.a * x0 + k.s * eps;
    EXPECT_LE(max_abs(prediction_from_x0(Prediction::kEpsilon, x0, x_t, k), eps), 1e-10);
    EXPECT_LE(max_abs(prediction_from_x0(Prediction::kVelocity, x0, x_t, k), k.a * eps - k.s * x0), 1e-10);
  }
}

TEST(Adapters, EveryParameterisationGivesTheSameDenoiser) {
  // Wrap the exact posterior mean as an eps, v and x0 VP network, a flow network and an EDM
  // network; each adapter must return the same D(x, sigma).
  const auto gmm = GaussianMixture::toy2d();
  const auto ac = alphas_cumprod_from_betas(make_betas(BetaSchedule::kScaledLinear));
  const auto table = sigmas_from_alphas_cumprod(ac);
  const auto x = torch::randn({16, 2}, torch::kFloat64) * 3;
  for (double t : {10.0, 500.0, 900.0}) {
    const double sigma = table[int64_t(t)].item<double>();
    const auto sg = torch::scalar_tensor(sigma, torch::kFloat64);
    const auto expected = gmm.posterior_mean(x, 1.0, sigma);
    for (auto p : {Prediction::kEpsilon, Prediction::kSample, Prediction::kVelocity}) {
      Network net = [&](const torch::Tensor& x_in, const torch::Tensor& tt) {
        const double s = t_to_sigma(table, tt.item<double>());
        const Scaling k = vp_scaling(s);
        return prediction_from_x0(p, gmm.posterior_mean(x_in, k.a, k.s), x_in, k);
      };
      EXPECT_LE(max_abs(vp_denoiser(net, p, ac)(x, sg), expected), 1e-9) << to_string(p) << " t=" << t;
    }
    Network flow_net = [&](const torch::Tensor& x_in, const torch::Tensor& tt) {
      const double s = tt.item<double>() / 1000.0;
      return prediction_from_x0(Prediction::kFlow, gmm.posterior_mean(x_in, 1 - s, s), x_in, {1 - s, s});
    };
    EXPECT_LE(max_abs(flow_denoiser(flow_net)(x, sg), expected), 1e-9);
    Network edm_net = [&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
      const double s = std::exp(4 * c_noise.item<double>());
      const auto c = edm_coefficients(s, 0.5);
      const auto xv = x_in / c.c_in;
      return (gmm.posterior_mean(xv, 1.0, s) - c.c_skip * xv) / c.c_out;
    };
    EXPECT_LE(max_abs(edm_denoiser(edm_net, 0.5)(x, sg), expected), 1e-9);
  }
}

TEST(Adapters, RoundedTimeInputUsesIntegerTimesteps) {
  const auto ac = alphas_cumprod_from_betas(make_betas(BetaSchedule::kScaledLinear));
  std::vector<double> seen;
  Network net = [&](const torch::Tensor& x_in, const torch::Tensor& t) {
    seen.push_back(t.item<double>());
    return torch::zeros_like(x_in);
  };
  vp_denoiser(net, Prediction::kEpsilon, ac, TimeInput::kRounded)(torch::zeros({1, 2}, torch::kFloat64),
                                                                    torch::scalar_tensor(3.3, torch::kFloat64));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::nearbyint(seen[0]));
}

TEST(Predictions, UnknownNameListsValidOnes) {
  try {
    prediction_from_name("noise");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("one of: epsilon, sample, v_prediction, flow"), std::string::npos);
  }
}

}  // namespace
}  // namespace diffuse
