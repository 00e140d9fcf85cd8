// Sampler benchmark on the analytic Gaussian mixture (exact denoiser, so only the sampler errs).
#include "apps/bench_samplers.h"

#include <torch/torch.h>

#include <chrono>

#include "core/analytic.h"
#include "core/noise.h"
#include "core/ode.h"
#include "core/samplers/samplers.h"
#include "core/schedules.h"

namespace diffuse {
namespace {

// Model evaluations per step: 2 for the two-stage samplers (the last step, to 0, is Euler).
int evals_per_step(const std::string& name) {
  return (name == "heun" || name == "dpm2" || name == "flow_heun" || name == "dpmpp_2s_a") ? 2 : 1;
}

}  // namespace

SamplerBench bench_samplers(const SamplerBenchOptions& o) {
  torch::NoGradGuard no_grad;
  const auto gmm = GaussianMixture::toy2d();
  Denoiser denoise = [&gmm](const torch::Tensor& x, const torch::Tensor& sigma) {
    return gmm.posterior_mean(x, 1.0, sigma.item<double>());
  };
  const int64_t D = gmm.dim();
  auto start = [&](int64_t n) {
    auto z = SeededNoise::consecutive(o.seed, n);
    return z.draw(torch::zeros({n, D}, torch::kFloat64)) * o.sigma_max;
  };
  make_sigmas(o.schedule, 1, ScheduleOptions{});  // unknown names fail before any work
  const auto x_err = start(o.n_error);
  const auto x_sw = start(o.n_sw);
  // Reference endpoint: RK4 in log-sigma to 1e-5, then the denoiser.
  const double sigma_end = 1e-5;
  const auto ref = denoise(solve_pf_ode(denoise, x_err, o.sigma_max, sigma_end, 4000),
                           torch::scalar_tensor(sigma_end, torch::kFloat64));
  const auto exact = gmm.sample(o.n_sw, o.seed + 1);
  SamplerBench bench;
  bench.options = o;
  bench.sw_floor = sliced_wasserstein(exact, gmm.sample(o.n_sw, o.seed + 2));

  for (const auto& info : samplers()) {
    if (!o.samplers.empty() && std::find(o.samplers.begin(), o.samplers.end(), info.name) == o.samplers.end()) continue;
    for (int64_t nfe : o.nfe) {
      SamplerBenchRow row;
      row.sampler = info.name;
      row.nfe_target = nfe;
      row.deterministic = !info.stochastic;
      row.steps = evals_per_step(info.name) == 2 ? (nfe + 1) / 2 : nfe;
      ScheduleOptions so;
      so.sigma_min = o.sigma_min;
      so.sigma_max = o.sigma_max;
      const auto sigmas = make_sigmas(o.schedule, row.steps, so);
      SamplerOptions opts;
      int64_t calls = 0;
      opts.on_model_call = [&calls](double) { ++calls; };
      if (row.deterministic) {
        SeededNoise noise = SeededNoise::consecutive(o.seed + 100, o.n_error);
        const auto x = run_sampler(info.name, denoise, x_err, sigmas, noise, opts);
        row.endpoint_error = (x - ref).abs().max().item<double>();
        row.endpoint_rmse = (x - ref).pow(2).sum(1).mean().sqrt().item<double>();
      }
      calls = 0;
      SeededNoise noise = SeededNoise::consecutive(o.seed + 200, o.n_sw);
      const auto xs = run_sampler(info.name, denoise, x_sw, sigmas, noise, opts);
      row.nfe = calls;
      row.sliced_wasserstein = sliced_wasserstein(xs, exact);
      // Overhead: the same run with a denoiser that costs nothing.
      const auto fixed = exact.clone();
      Denoiser free_denoiser = [&fixed](const torch::Tensor&, const torch::Tensor&) { return fixed; };
      SeededNoise noise2 = SeededNoise::consecutive(o.seed + 300, o.n_sw);
      SamplerOptions quiet;
      const auto t0 = std::chrono::steady_clock::now();
      run_sampler(info.name, free_denoiser, x_sw, sigmas, noise2, quiet);
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      row.overhead_us_per_step = dt / double(row.steps) * 1e6;
      bench.rows.push_back(row);
    }
  }
  return bench;
}

Json to_json(const SamplerBench& b) {
  Json rows = Json::array();
  for (const auto& r : b.rows) {
    rows.push_back({{"sampler", r.sampler}, {"nfe_target", r.nfe_target}, {"nfe", r.nfe}, {"steps", r.steps},
                    {"deterministic", r.deterministic},
                    {"endpoint_error", r.deterministic ? Json(r.endpoint_error) : Json(nullptr)},
                    {"endpoint_rmse", r.deterministic ? Json(r.endpoint_rmse) : Json(nullptr)},
                    {"sliced_wasserstein", r.sliced_wasserstein}, {"overhead_us_per_step", r.overhead_us_per_step}});
  }
  return {{"benchmark", "samplers"}, {"data", "analytic 2-D Gaussian mixture (GaussianMixture::toy2d)"},
          {"schedule", b.options.schedule}, {"sigma_min", b.options.sigma_min}, {"sigma_max", b.options.sigma_max},
          {"points", b.options.n_sw}, {"error_points", b.options.n_error}, {"sw_floor", b.sw_floor}, {"rows", rows}};
}

}  // namespace diffuse
