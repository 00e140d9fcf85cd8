// DDIM (Song et al. 2021, eq. 12, with eta) and DDPM ancestral sampling (Ho et al. 2020,
// posterior q(x_{t-1} | x_t, x0) with variance "fixed_small"), as diffusers' DDIMScheduler and
// DDPMScheduler step. Both are written in VP terms, with ac = 1 / (1 + sigma^2), on the VE
// state x = x_vp / sqrt(ac). The 1 - ac terms are computed as sigma^2 / (1 + sigma^2).
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

namespace {
void check_step_targets(const SamplerOptions& o, size_t grid) {
  if (!o.step_targets.empty() && o.step_targets.size() + 1 != grid) {
    throw std::invalid_argument("step_targets: " + std::to_string(o.step_targets.size()) + " targets for " + std::to_string(grid - 1) + " steps");
  }
}
}  // namespace

torch::Tensor sample_ddim(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                          NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const double eta = o.eta.value_or(0.0);
  check_step_targets(o, sigmas.size());
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    const double s_to = o.step_targets.empty() ? s_next : o.step_targets[size_t(i)];  // where the step lands
    const auto x0 = denoise_at(denoise, x, s, o);
    const auto eps = (x - x0) / s;
    const double ac_prev = 1.0 / (1.0 + s_to * s_to);
    const double beta_prod_prev = s_to * s_to / (1.0 + s_to * s_to);
    // Var = (1 - ac_prev) / (1 - ac_t) * (1 - ac_t / ac_prev)
    const double variance = s_to * s_to * (s * s - s_to * s_to) / (s * s * (1.0 + s_to * s_to));
    const double std_dev = eta * std::sqrt(std::max(variance, 0.0));
    auto x_vp = std::sqrt(ac_prev) * x0 + std::sqrt(std::max(beta_prod_prev - std_dev * std_dev, 0.0)) * eps;
    if (eta > 0) x_vp = x_vp + std_dev * noise.draw(x);
    // The VP state is the next model input as it is: in VE terms, at the next grid sigma.
    x = s_to == s_next ? x_vp / std::sqrt(ac_prev) : x_vp * std::sqrt(1.0 + s_next * s_next);
    step_done(x, i, s_next, o);
  }
  return x;
}

torch::Tensor sample_ddpm(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                          NoiseSource& noise, const SamplerOptions& o) {
  // diffusers' DDPMScheduler steps to the next timestep (previous_timestep), whatever the
  // spacing: step_targets, which are DDIM's, do not apply.
  const auto sigmas = to_vector(sigmas_t);
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    const auto x0 = denoise_at(denoise, x, s, o);
    const double ac_t = 1.0 / (1.0 + s * s), ac_prev = 1.0 / (1.0 + s_next * s_next);
    const double beta_prod_t = s * s / (1.0 + s * s), beta_prod_prev = s_next * s_next / (1.0 + s_next * s_next);
    const double alpha_t = ac_t / ac_prev;
    const double beta_t = (s * s - s_next * s_next) / (1.0 + s * s);  // 1 - alpha_t
    const double c_x0 = std::sqrt(ac_prev) * beta_t / beta_prod_t;
    const double c_xt = std::sqrt(alpha_t) * beta_prod_prev / beta_prod_t;
    auto x_vp = c_x0 * x0 + c_xt * (x * std::sqrt(ac_t));
    if (s_next > 0) {
      const double variance = std::max(beta_prod_prev / beta_prod_t * beta_t, 1e-20);
      x_vp = x_vp + std::sqrt(variance) * noise.draw(x);
    }
    x = x_vp / std::sqrt(ac_prev);
    step_done(x, i, s_next, o);
  }
  return x;
}

}  // namespace diffuse
