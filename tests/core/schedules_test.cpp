// Schedules against diffusers' and k-diffusion's float64 tables (shared/reference/schedules.json),
// plus the properties every registered schedule must have.
#include "core/schedules.h"

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

using test::max_abs;
using test::tensor_from;

Json schedules_json() { return read_json_file(test::reference_path("schedules.json")); }

TEST(BetaTables, MatchDiffusers) {
  DIFFUSE_REQUIRE_REFERENCE();
  const auto j = schedules_json();
  for (const auto& [name, e] : j.at("beta_tables").items()) {
    const auto& kw = e.at("constructor_kwargs");
    auto betas = make_betas(beta_schedule_from_name(kw.at("beta_schedule")), kw.at("num_train_timesteps"),
                            kw.at("beta_start"), kw.at("beta_end"));
    if (kw.value("rescale_betas_zero_snr", false)) betas = rescale_zero_terminal_snr(betas);
    EXPECT_LE(max_abs(betas, tensor_from(e.at("betas"))), 1e-12) << name;
    EXPECT_LE(max_abs(alphas_cumprod_from_betas(betas), tensor_from(e.at("alphas_cumprod"))), 1e-12) << name;
  }
}

TEST(ZeroTerminalSnr, LastAlphasCumprodIsZero) {
  const auto ac = alphas_cumprod_from_betas(rescale_zero_terminal_snr(make_betas(BetaSchedule::kScaledLinear)));
  EXPECT_EQ(ac[-1].item<double>(), 0.0);
  EXPECT_EQ(sigmas_from_alphas_cumprod(ac)[-1].item<double>(), kSigmaInfinity);
}

TEST(DdimTimesteps, MatchDiffusersForEverySpacingAndOffset) {
  DIFFUSE_REQUIRE_REFERENCE();
  const auto j = schedules_json();  // held: a range-for over a temporary's items() reads freed memory (ASan)
  for (const auto& [name, e] : j.at("ddim_timesteps").items()) {
    const auto& kw = e.at("constructor_kwargs");
    const auto t = spaced_timesteps(kw.at("num_train_timesteps"), e.at("num_inference_steps"),
                                    spacing_from_name(kw.at("timestep_spacing")), kw.at("steps_offset"));
    EXPECT_EQ(max_abs(t, tensor_from(e.at("timesteps"))), 0.0) << name;  // integers: exact
  }
}

TEST(EulerGrids, MatchDiffusers) {
  DIFFUSE_REQUIRE_REFERENCE();
  const auto table = sigmas_from_alphas_cumprod(alphas_cumprod_from_betas(make_betas(BetaSchedule::kScaledLinear)));
  const double smin = table[0].item<double>(), smax = table[-1].item<double>();
  const auto j = schedules_json();  // held: a range-for over a temporary's items() reads freed memory (ASan)
  for (const auto& [name, e] : j.at("euler_grids").items()) {
    const auto& kw = e.at("constructor_kwargs");
    const int64_t n = e.at("num_inference_steps");
    torch::Tensor sigmas, t;
    if (kw.value("use_karras_sigmas", false) || kw.value("use_exponential_sigmas", false)) {
      sigmas = kw.value("use_karras_sigmas", false) ? karras_sigmas(n, smin, smax) : exponential_sigmas(n, smin, smax);
      std::vector<double> ts;
      for (int64_t i = 0; i < n; ++i) ts.push_back(sigma_to_t(table, sigmas[i].item<double>()));
      t = torch::tensor(ts, torch::kFloat64);
    } else {
      t = spaced_timesteps(1000, n, spacing_from_name(kw.at("timestep_spacing")), 0, /*round=*/false);
      sigmas = append_zero(timesteps_to_sigmas(table, t));
    }
    EXPECT_LE(max_abs(sigmas, tensor_from(e.at("sigmas"))), 1e-10) << name;
    EXPECT_LE(max_abs(t, tensor_from(e.at("timesteps"))), 1e-8) << name;
  }
}

TEST(KarrasAndExponentialSigmas, MatchKDiffusion) {
  DIFFUSE_REQUIRE_REFERENCE();
  const auto j = schedules_json();
  for (const auto& [name, e] : j.at("karras_sigmas").items()) {
    EXPECT_LE(max_abs(karras_sigmas(e.at("n"), e.at("sigma_min"), e.at("sigma_max"), e.at("rho")), tensor_from(e.at("sigmas"))), 1e-10) << name;
  }
  for (const auto& [name, e] : j.at("exponential_sigmas").items()) {
    EXPECT_LE(max_abs(exponential_sigmas(e.at("n"), e.at("sigma_min"), e.at("sigma_max")), tensor_from(e.at("sigmas"))), 1e-10) << name;
  }
}

TEST(FlowTimes, MatchDiffusersWithShift) {
  DIFFUSE_REQUIRE_REFERENCE();
  const auto j = schedules_json();  // held: a range-for over a temporary's items() reads freed memory (ASan)
  for (const auto& [name, e] : j.at("flow_match_sigmas").items()) {
    const auto t = flow_times(e.at("num_inference_steps"), e.at("constructor_kwargs").at("shift"));
    EXPECT_LE(max_abs(t, tensor_from(e.at("sigmas"))), 1e-12) << name;
  }
}

TEST(MultistepTimesteps, AreDiffusersLinspacePlusOne) {
  const auto t = multistep_timesteps(1000, 10);
  EXPECT_EQ(t[0].item<double>(), 999.0);
  EXPECT_EQ(t[5].item<double>(), 500.0);  // linspace(0, 999, 11)[5] = 499.5, rounds to even
  EXPECT_EQ(t[9].item<double>(), 100.0);
}

TEST(SigmaToT, InvertsTToSigma) {
  const auto table = sigmas_from_alphas_cumprod(alphas_cumprod_from_betas(make_betas(BetaSchedule::kLinear, 1000, 1e-4, 0.02)));
  for (double t : {0.0, 1.5, 250.25, 998.75, 999.0}) EXPECT_NEAR(sigma_to_t(table, t_to_sigma(table, t)), t, 1e-9);
}

TEST(BetaSigmas, AreSymmetricForEqualShapes) {
  // Beta(a, a) quantiles are symmetric about 1/2, so the middle sigma is the range's midpoint.
  const auto s = beta_sigmas(5, 1.0, 3.0, 0.6, 0.6);
  EXPECT_NEAR(s[2].item<double>(), 2.0, 1e-12);
  EXPECT_NEAR(s[0].item<double>(), 3.0, 1e-12);
  EXPECT_NEAR(s[4].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(s[1].item<double>() - 2.0, 2.0 - s[3].item<double>(), 1e-12);
}

// ---- every registered schedule -------------------------------------------------------------
class EverySchedule : public ::testing::TestWithParam<std::string> {};

TEST_P(EverySchedule, ReturnsNPlusOneDecreasingSigmasEndingAtZero) {
  for (int64_t n : {1, 7, 30}) {
    const auto s = make_sigmas(GetParam(), n);
    ASSERT_EQ(s.size(0), n + 1);
    EXPECT_EQ(s[-1].item<double>(), 0.0);
    for (int64_t i = 0; i < n; ++i) EXPECT_GT(s[i].item<double>(), s[i + 1].item<double>()) << "i=" << i;
    EXPECT_EQ(s.scalar_type(), torch::kFloat64);
  }
}

TEST_P(EverySchedule, RejectsZeroSteps) {
  EXPECT_THROW(make_sigmas(GetParam(), 0), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Registry, EverySchedule, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (const auto& s : schedules()) names.push_back(s.name);
                           return names;
                         }()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(ScheduleErrors, NameTheProblem) {
  try {
    make_sigmas("karas", 10);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown schedule 'karas'; one of: karras"), std::string::npos) << e.what();
  }
  ScheduleOptions o;
  o.sigma_min = 10;
  o.sigma_max = 1;
  EXPECT_THROW(make_sigmas("karras", 10, o), std::invalid_argument);
  o = {};
  o.shift = 0;
  EXPECT_THROW(make_sigmas("flow", 10, o), std::invalid_argument);
  EXPECT_THROW(karras_sigmas(-1, 0.1, 10), std::invalid_argument);
  EXPECT_THROW(beta_schedule_from_name("quadratic"), std::invalid_argument);
}

}  // namespace
}  // namespace diffuse
