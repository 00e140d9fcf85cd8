// Second-order single-step ODE samplers: Heun (Karras et al. 2022, Algorithm 2, with churn) and
// DPM-2 (k-diffusion sample_dpm_2: midpoint in log sigma). The last step, to sigma = 0, is Euler.
#include <torch/torch.h>

#include <cmath>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

torch::Tensor sample_heun(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                          NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const int64_t n = int64_t(sigmas.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const double sigma_hat = churn(x, sigmas[i], n, noise, o);
    const auto d = to_d(x, sigma_hat, denoise_at(denoise, x, sigma_hat, o));
    const double dt = sigmas[i + 1] - sigma_hat;
    if (sigmas[i + 1] == 0) {
      x = x + d * dt;
    } else {
      const auto x_2 = x + d * dt;
      const auto d_2 = to_d(x_2, sigmas[i + 1], denoise_at(denoise, x_2, sigmas[i + 1], o));
      x = x + (d + d_2) / 2 * dt;
    }
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

torch::Tensor sample_dpm_2(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                           NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const int64_t n = int64_t(sigmas.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const double sigma_hat = churn(x, sigmas[i], n, noise, o);
    const auto d = to_d(x, sigma_hat, denoise_at(denoise, x, sigma_hat, o));
    if (sigmas[i + 1] == 0) {
      x = x + d * (sigmas[i + 1] - sigma_hat);
    } else {
      const double sigma_mid = std::exp(0.5 * (std::log(sigma_hat) + std::log(sigmas[i + 1])));
      const auto x_2 = x + d * (sigma_mid - sigma_hat);
      const auto d_2 = to_d(x_2, sigma_mid, denoise_at(denoise, x_2, sigma_mid, o));
      x = x + d_2 * (sigmas[i + 1] - sigma_hat);
    }
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

}  // namespace diffuse
