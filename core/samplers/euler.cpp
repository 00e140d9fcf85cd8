// Euler and Euler ancestral on the probability-flow ODE (Karras et al. 2022, Algorithm 2;
// k-diffusion sample_euler, sample_euler_ancestral).
#include <torch/torch.h>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

torch::Tensor sample_euler(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                           NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const int64_t n = int64_t(sigmas.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const double sigma_hat = churn(x, sigmas[i], n, noise, o);
    const auto d = to_d(x, sigma_hat, denoise_at(denoise, x, sigma_hat, o));
    x = x + d * (sigmas[i + 1] - sigma_hat);
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

torch::Tensor sample_euler_ancestral(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                                     NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const double eta = o.eta.value_or(1.0);
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const auto denoised = denoise_at(denoise, x, sigmas[i], o);
    const auto step = ancestral_step(sigmas[i], sigmas[i + 1], eta);
    x = x + to_d(x, sigmas[i], denoised) * (step.down - sigmas[i]);
    if (sigmas[i + 1] > 0) x = x + noise.draw(x) * o.s_noise * step.up;
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

}  // namespace diffuse
